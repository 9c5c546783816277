import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { PasswordHasher } from '../../activities/credentials.js';

/**
 * The least a login can do and still keep the rules, as a reference for varco's own:
 * a bare node:http server that parses the JSON, counts the attempt durably before checking the
 * password (one upsert), verifies it with the same hasher, and records the session (one insert).
 * No Express, no security headers, no request log, no audit, no lockout rules: no login that
 * counts attempts in Postgres goes below what this one costs on the same machine.
 *
 * POST /login is that login; POST /answer only answers, the floor under any request at all.
 */
export async function startLoginFloor(pool: pg.Pool, hasher: PasswordHasher): Promise<{ url: string; stop(): Promise<void> }> {
  await pool.query(`
    create table if not exists bench_floor_attempts (key text primary key, attempts int not null, at timestamptz not null default now());
    create table if not exists bench_floor_sessions (token text primary key, key text not null, at timestamptz not null default now());`);
  const stored = new Map<string, Promise<string>>();
  const hashOf = (password: string) => {
    let hash = stored.get(password);
    if (!hash) stored.set(password, (hash = hasher.hash(password)));
    return hash;
  };

  const login = async (body: string): Promise<number> => {
    const { username, password } = JSON.parse(body) as { username: string; password: string };
    await pool.query({
      name: 'bench-floor-attempt',
      text: 'insert into bench_floor_attempts (key, attempts) values ($1, 1) on conflict (key) do update set attempts = bench_floor_attempts.attempts + 1, at = now()',
      values: [username],
    });
    if (!(await hasher.verify(await hashOf(password), password))) return 401;
    await pool.query({ name: 'bench-floor-session', text: 'insert into bench_floor_sessions (token, key) values ($1, $2)', values: [randomBytes(32).toString('base64url'), username] });
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
