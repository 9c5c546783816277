import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { PasswordHasher } from '../../activities/credentials.js';

/**
 * The least a login can do and still count attempts and keep sessions in Postgres, as a
 * reference for varco's own: a bare node:http server that parses the JSON, counts the attempt
 * and reads the stored hash in one statement (before the password is checked, as the lock
 * needs), verifies with the same hasher, and records the session in a second statement.
 * No Express, security headers, request log, audit, per-address limit or lockout decisions:
 * what any login that keeps its counters and sessions in Postgres costs on the same machine.
 *
 * POST /login is that login (the username is a codice fiscale); POST /answer only answers,
 * the floor under any request at all.
 */
export async function startLoginFloor(pool: pg.Pool, hasher: PasswordHasher): Promise<{ url: string; stop(): Promise<void> }> {
  await pool.query(`
    create table if not exists bench_floor_attempts (key text primary key, attempts int not null, at timestamptz not null default now());
    create table if not exists bench_floor_sessions (token text primary key, key text not null, at timestamptz not null default now());`);
  const login = async (body: string): Promise<number> => {
    const { username, password } = JSON.parse(body) as { username: string; password: string };
    const { rows } = await pool.query<{ hash: string }>(
      `with attempt as (
         insert into bench_floor_attempts (key, attempts) values ($1, 1)
         on conflict (key) do update set attempts = bench_floor_attempts.attempts + 1, at = now()
       )
       select c.hash from subjects s join credentials c on c.subject_id = s.id where s.codice_fiscale = $1`,
      [username],
    );
    const stored = rows[0]?.hash;
    if (!stored || !(await hasher.verify(stored, password))) return 401;
    await pool.query('insert into bench_floor_sessions (token, key) values ($1, $2)', [randomBytes(32).toString('base64url'), username]);
    return 200;
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const answered = req.url === '/login' ? login(body) : Promise.resolve(200);
      answered.then(
        (status) => {
          res.statusCode = status;
          res.setHeader('content-type', 'application/json');
          res.end('{"subject":{},"requiredActions":[]}');
        },
        (error: unknown) => {
          res.statusCode = 500;
          res.end(JSON.stringify({ error: String(error) }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
