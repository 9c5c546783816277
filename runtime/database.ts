import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from './config.js';

export interface Database {
  url: string;
  origin: 'DATABASE_URL' | 'local server' | 'embedded';
  stop(): Promise<void>;
}

const LOCAL_SERVER = 'postgres://postgres@127.0.0.1:5432';

/** Returns whether a Postgres server answers at url within a second. */
export async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the database on the server when it is missing (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database "${name.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  return `${serverUrl}/${name}`;
}

/**
 * DATABASE_URL when set; otherwise the machine's Postgres when it answers (database "varco");
 * otherwise PGlite, a Postgres compiled to WebAssembly, served on a local socket so that the
 * same `pg` code talks to all three.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl) return { url: config.databaseUrl, origin: 'DATABASE_URL', stop: async () => undefined };
  if (await answers(`${LOCAL_SERVER}/postgres`)) {
    const url = await ensureDatabase(LOCAL_SERVER, 'varco');
    return { url, origin: 'local server', stop: async () => undefined };
  }
  logger.info('nessun Postgres locale: avvio di PGlite incorporato');
  return startEmbedded(path.join(config.dataDir, 'pglite'));
}

export async function startEmbedded(dir: string, port = 0): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  fs.mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: port || (await freePort()), maxConnections: 8 });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres?sslmode=disable`,
    origin: 'embedded',
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A throw-away database for tests and benchmarks: a fresh one on the machine's Postgres,
 * dropped by stop(), or PGlite in dir when no server answers.
 */
export async function scratchDatabase(prefix: string, dir: string): Promise<Database> {
  if (!(await answers(`${LOCAL_SERVER}/postgres`))) return startEmbedded(path.join(dir, 'pglite'));
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const url = await ensureDatabase(LOCAL_SERVER, name);
  return {
    url,
    origin: 'local server',
    stop: async () => {
      const admin = new pg.Client({ connectionString: `${LOCAL_SERVER}/postgres` });
      await admin.connect();
      try {
        await admin.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
