import type pg from 'pg';
import type { Config } from '../runtime/config.js';
import type { Secrets } from '../runtime/secrets.js';
import type { PasswordHasher } from './credentials.js';
import type { Outbox } from './outbox.js';

/** What activities need from the outside world; the worker builds it once. */
export interface ActivityDeps {
  config: Config;
  pool: pg.Pool;
  secrets: Secrets;
  outbox: Outbox;
  hasher: PasswordHasher;
}

/** Runs fn in one transaction. */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
