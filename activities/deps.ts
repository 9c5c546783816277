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
  let result: T;
  try {
    await client.query('begin');
    result = await fn(client);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    // Not back to the pool: the connection may hold a statement prepared against a schema
    // another instance has since migrated ("cached plan must not change result type").
    client.release(true);
    throw error;
  }
  client.release();
  return result;
}
