import { createHash } from 'node:crypto';
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

/**
 * The machine's own Postgres: through its Unix socket when it answers there (half the round
 * trip of loopback TCP, and less CPU on both ends), else on 127.0.0.1:5432.
 */
const LOCAL_SERVERS = [`postgres://postgres@${encodeURIComponent('/var/run/postgresql')}`, 'postgres://postgres@127.0.0.1:5432'];

/** The first local server URL that answers, if any. */
async function localServer(): Promise<string | undefined> {
  for (const url of LOCAL_SERVERS) if (await answers(`${url}/postgres`)) return url;
  return undefined;
}

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
  const server = await localServer();
  if (server) {
    const url = await ensureDatabase(server, 'varco');
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
    url: `postgres://postgres@${address}/postgres?sslmode=disable&application_name=${EMBEDDED_APPLICATION}`,
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
  const server = await localServer();
  if (!server) return startEmbedded(path.join(dir, 'pglite'));
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const url = await ensureDatabase(server, name);
  return {
    url,
    origin: 'local server',
    stop: async () => {
      const admin = new pg.Client({ connectionString: `${server}/postgres` });
      await admin.connect();
      try {
        await admin.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * Marks the embedded server's URLs: PGlite serves every connection from one session, where a
 * statement prepared by one connection already exists for the next.
 */
const EMBEDDED_APPLICATION = 'varco-pglite';

const statementNames = new Map<string, string>();
const statementName = (text: string): string => {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, (name = `varco_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`));
  return name;
};

/**
 * A client that has the server keep the plan of every parameterized statement (the SQL is
 * static: one prepared statement per text and connection). Planning the login's and the
 * registration's CTEs took more server time than running them.
 */
class PreparingClient extends pg.Client {
  override query(...args: any[]): any {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values)) args.splice(0, 2, { name: statementName(text), text, values });
    return (super.query as (...a: unknown[]) => unknown).apply(this, args);
  }
}

export function createPool(url: string, max = 10): pg.Pool {
  const embedded = new RegExp(`[?&]application_name=${EMBEDDED_APPLICATION}(&|$)`).test(url);
  const pool = new pg.Pool({ connectionString: url, max, Client: embedded ? pg.Client : PreparingClient });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
