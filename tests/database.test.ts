import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { audit } from '../activities/audit.js';
import { transaction } from '../activities/deps.js';
import { findSubject, upsertSubject } from '../activities/subjects.js';
import { migrate } from '../db/migrate.js';
import { loadConfig } from '../runtime/config.js';
import { createPool, openDatabase, startEmbedded } from '../runtime/database.js';
import { createLogger } from '../runtime/logger.js';
import { randomCodiceFiscale } from './support/subjects.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'varco-db-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const silent = createLogger('silent');

describe('choosing the database', () => {
  it('uses DATABASE_URL when it is set', async () => {
    const db = await openDatabase(loadConfig({ DATA_DIR: tmp, DATABASE_URL: inject('databaseUrl') }), silent);
    expect(db).toMatchObject({ origin: 'DATABASE_URL', url: inject('databaseUrl') });
  });

  it('runs the same migrations and queries on embedded PGlite through pg, and keeps the data across a restart', async () => {
    const dir = path.join(tmp, 'pglite');
    const codiceFiscale = randomCodiceFiscale();
    let id = '';
    let db = await startEmbedded(dir);
    let pool = createPool(db.url, 1);
    try {
      expect(db.origin).toBe('embedded');
      expect((await migrate(pool)).length).toBeGreaterThan(0);
      id = (await transaction(pool, (client) => upsertSubject(client, { kind: 'member', codiceFiscale, firstName: 'Ada', lastName: 'Lovelace', contacts: [] }))).id;
    } finally {
      await pool.end();
      await db.stop();
    }
    db = await startEmbedded(dir);
    // Several connections share PGlite's one session: the same statements from each must not collide.
    pool = createPool(db.url, 3);
    try {
      expect(await migrate(pool)).toEqual([]);
      for (let round = 0; round < 2; round++) {
        const found = await Promise.all([1, 2, 3].map(() => findSubject(pool, id)));
        for (const subject of found) expect(subject).toMatchObject({ codiceFiscale, displayName: 'Ada Lovelace' });
      }
    } finally {
      await pool.end();
      await db.stop();
    }
  }, 60_000);
});

describe('statements', () => {
  it('are prepared once per connection on a Postgres server, so the server plans each only once', async () => {
    const url = inject('databaseUrl');
    const pool = createPool(url, 1);
    try {
      for (let i = 0; i < 3; i++) expect((await pool.query<{ n: number }>('select $1::int + 1 as n', [i])).rows).toEqual([{ n: i + 1 }]);
      const { rows } = await pool.query<{ statement: string }>(`select statement from pg_prepared_statements where name like 'varco\\_%'`);
      // PGlite (the fallback when no server runs) shares one session between connections: nothing is prepared there.
      expect(rows.map((r) => r.statement)).toEqual(url.includes('varco-pglite') ? [] : ['select $1::int + 1 as n']);
    } finally {
      await pool.end();
    }
  });

  it('drops a connection whose transaction failed: a statement prepared before a migration elsewhere fails once, not forever', async () => {
    const url = inject('databaseUrl');
    const pool = createPool(url, 1);
    const table = `prepared_${Date.now()}`;
    try {
      await pool.query(`create table ${table} (a int)`);
      const read = () => transaction(pool, (client) => client.query(`select * from ${table} where a = $1`, [1]));
      await read();
      // What another instance's migration does to this one's prepared statement.
      await pool.query(`alter table ${table} add column b int`);
      if (!url.includes('varco-pglite')) await expect(read()).rejects.toThrow(/cached plan must not change result type/);
      await expect(read()).resolves.toMatchObject({ rowCount: 0 });
    } finally {
      await pool.query(`drop table if exists ${table}`);
      await pool.end();
    }
  });
});

describe('the audit log', () => {
  it('is append-only: rows can be added, never changed or removed', async () => {
    const pool = createPool(inject('databaseUrl'), 1);
    try {
      await audit(pool, { event: 'login_failed', ip: '127.0.0.1', requestId: 'req-append-only', details: { unknownUsername: true } });
      await expect(pool.query(`update audit_events set event = 'login' where request_id = 'req-append-only'`)).rejects.toThrow(/append-only/);
      await expect(pool.query(`delete from audit_events where request_id = 'req-append-only'`)).rejects.toThrow(/append-only/);
      const { rows } = await pool.query(`select event from audit_events where request_id = 'req-append-only'`);
      expect(rows).toEqual([{ event: 'login_failed' }]);
    } finally {
      await pool.end();
    }
  });
});
