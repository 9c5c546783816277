import { createHash, randomBytes } from 'node:crypto';
import { verify } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKey } from '../activities/rateLimit.js';
import { Browser as Client, type Reply } from './support/http.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember, randomCodiceFiscale, type TestMember } from './support/subjects.js';

/**
 * P0 login over HTTP (issue 4): usernames, the session cookie, no enumeration, the account lock,
 * the per-address limit, first-access and expired passwords, logout, re-hashing, bad input.
 * The account routes (GET /api/me, password change, PIN, CSRF, audit, reminders) are in
 * account.api.test.ts.
 */

const LOCK_AFTER = 3;
const LOCK_FOR_MS = 2_000;
const DELAY_BASE_MS = 300;
const IP_MAX_FAILURES = 4;
const NEW_PASSWORD = 'Nuova#Password9';

let stack: TestStack;
/** a second instance on the same database, with cheaper argon2 parameters than the first */
let rehashing: TestStack;
beforeAll(async () => {
  [stack, rehashing] = await Promise.all([
    startTestStack(
      {
        LOGIN_LOCK_AFTER: String(LOCK_AFTER),
        LOGIN_LOCK_FOR: `${LOCK_FOR_MS}ms`,
        LOGIN_DELAY_BASE: `${DELAY_BASE_MS}ms`,
        LOGIN_DELAY_MAX: '1s',
        LOGIN_IP_MAX_FAILURES: String(IP_MAX_FAILURES),
      },
      { worker: false },
    ),
    startTestStack({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { worker: false }),
  ]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), rehashing?.stop()]);
});


const login = (client: Client, username: string, password: string) => client.post('/api/session', { username, password });

const group = () => randomBytes(2).toString('hex');
/** The first 48 bits of an IPv6 /64 of the test's own (documentation range). */
const site = () => `2001:db8:${group()}`;

async function loggedIn(member: TestMember, password = member.password, client = new Client(stack.url)) {
  const res = await login(client, member.codiceFiscale, password);
  expect(res.status).toBe(200);
  return { client, res };
}

async function changePassword(client: Client, currentPassword: string, newPassword: string) {
  const res = await client.post('/api/me/password', { currentPassword, newPassword, confirmPassword: newPassword });
  expect(res.status).toBe(204);
}

const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
};

const sessionCookieOf = (res: Reply) => res.headers.getSetCookie().find((line) => line.startsWith('varco_session='));
const tokenOf = (res: Reply) => /^varco_session=([^;]*)/.exec(sessionCookieOf(res) ?? '')?.[1] ?? '';
const hashOf = async (subjectId: string) => (await stack.pool.query<{ hash: string }>('select hash from credentials where subject_id = $1', [subjectId])).rows[0]!.hash;
const throttleOf = async (key: string) =>
  (await stack.pool.query<{ failures: number; locked: boolean }>('select failures, coalesce(locked_until > now(), false) as locked from login_throttle where key = $1', [key])).rows[0];

describe('POST /api/session', () => {
  it('logs in by matricola and by codice fiscale in any case, with a Secure (outside development), httpOnly, SameSite=Lax session cookie', async () => {
    const member = await provisionMember(stack);
    const tokens = new Set<string>();
    for (const username of [member.matricola, member.codiceFiscale.toLowerCase(), member.codiceFiscale, ` ${member.matricola} `]) {
      const client = new Client(stack.url);
      const res = await login(client, username, member.password);
      expect(res.status, username).toBe(200);
      expect(res.body).toEqual({
        subject: { id: member.id, kind: 'member', displayName: 'Mario Rossi' },
        requiredActions: ['change_password', 'register_secure_channel'],
        csrfToken: expect.stringMatching(/^\S{20,}$/),
      });

      const cookies = res.headers.getSetCookie();
      expect(cookies).toHaveLength(1);
      const [pair, ...attributes] = cookies[0]!.split(';').map((part) => part.trim());
      expect(pair).toMatch(/^varco_session=[A-Za-z0-9_-]{40,}$/);
      const lowered = attributes.map((a) => a.toLowerCase());
      expect(lowered).toContain('secure');
      expect(lowered).toContain('httponly');
      expect(lowered).toContain('samesite=lax');
      expect(lowered).toContain('path=/');
      expect(lowered.some((a) => a.startsWith('max-age='))).toBe(true);

      // The cookie works, and the table keeps only the token's hash.
      const token = tokenOf(res);
      tokens.add(token);
      expect((await client.get('/api/me')).status).toBe(200);
      const stored = await stack.pool.query('select id from sessions where subject_id = $1 and id = $2', [member.id, token]);
      expect(stored.rowCount).toBe(0);
      const hashed = await stack.pool.query('select id from sessions where subject_id = $1 and id = $2', [member.id, createHash('sha256').update(token).digest('base64url')]);
      expect(hashed.rowCount).toBe(1);
    }
    expect(tokens.size).toBe(4);
  });

  it('answers an unknown username exactly like a wrong password, and slows and locks it the same way', async () => {
    const member = await provisionMember(stack);
    const unknownUsername = randomCodiceFiscale();
    const known = new Client(stack.url);
    const unknown = new Client(stack.url);

    const replies: { known: Reply; unknown: Reply; knownMs: number; unknownMs: number }[] = [];
    for (let attempt = 1; attempt <= LOCK_AFTER + 1; attempt++) {
      const [k, knownMs] = await timed(() => login(known, member.codiceFiscale, 'Sbagliata#123'));
      const [u, unknownMs] = await timed(() => login(unknown, unknownUsername, 'Sbagliata#123'));
      replies.push({ known: k, unknown: u, knownMs, unknownMs });
    }

    // Same status, same body, attempt after attempt.
    expect(replies.map((r) => r.known.status)).toEqual([401, 401, 423, 423]);
    for (const { known: k, unknown: u } of replies) {
      expect(u.status).toBe(k.status);
      expect(u.body).toEqual(k.body);
      expect(u.headers.get('retry-after')).toBe(k.headers.get('retry-after'));
    }
    expect(replies[0]!.known.body).toEqual({ error: 'invalid_credentials', message: expect.any(String) });
    expect(replies[2]!.unknown.body).toEqual({ error: 'account_locked', message: expect.any(String), retryAfter: LOCK_FOR_MS / 1000 });

    // The second failure is held back for both (LOGIN_DELAY_BASE).
    expect(replies[1]!.knownMs).toBeGreaterThanOrEqual(DELAY_BASE_MS - 5);
    expect(replies[1]!.unknownMs).toBeGreaterThanOrEqual(DELAY_BASE_MS - 5);

    // Both locks are rows in Postgres.
    expect(await throttleOf(`subject:${member.id}`)).toMatchObject({ locked: true });
    expect(await throttleOf(`unknown:${unknownUsername}`)).toMatchObject({ locked: true });
  });

  it('locks the account after LOGIN_LOCK_AFTER failures, even for the right password and on every instance, until LOGIN_LOCK_FOR has passed', async () => {
    const member = await provisionMember(stack);
    const client = new Client(stack.url);
    for (let attempt = 1; attempt < LOCK_AFTER; attempt++) {
      expect((await login(client, member.matricola, `Sbagliata#${attempt}`)).status).toBe(401);
    }
    expect(await throttleOf(`subject:${member.id}`)).toEqual({ failures: LOCK_AFTER - 1, locked: false });

    const lockedAt = performance.now();
    const locking = await login(client, member.codiceFiscale, 'Sbagliata#3');
    expect(locking.status).toBe(423);
    expect(locking.body).toEqual({ error: 'account_locked', message: expect.any(String), retryAfter: 2 });
    expect(locking.headers.get('retry-after')).toBe('2');

    const right = await login(client, member.codiceFiscale, member.password);
    expect(right.status).toBe(423);
    expect(right.body.error).toBe('account_locked');
    expect(right.body.retryAfter).toBeGreaterThanOrEqual(1);
    expect(right.body.retryAfter).toBeLessThanOrEqual(2);
    expect(right.headers.get('retry-after')).toBe(String(right.body.retryAfter));
    expect(sessionCookieOf(right)).toBeUndefined();

    // The lock lives in Postgres: another instance on the same database sees it too.
    expect(await throttleOf(`subject:${member.id}`)).toMatchObject({ locked: true });
    expect((await login(new Client(rehashing.url), member.matricola, member.password)).status).toBe(423);

    // Wait for it to pass: the right password works again, and the counter is gone.
    const deadline = Date.now() + 10_000;
    let res = right;
    while (res.status === 423 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await login(client, member.codiceFiscale, member.password);
    }
    expect(res.status).toBe(200);
    expect(performance.now() - lockedAt).toBeGreaterThanOrEqual(LOCK_FOR_MS - 100);
    expect(await throttleOf(`subject:${member.id}`)).toBeUndefined();
    const events = await stack.pool.query(`select event, details from audit_events where subject_id = $1 and event = 'account_locked'`, [member.id]);
    expect(events.rows).toEqual([{ event: 'account_locked', details: { forSeconds: 2 } }]);
  });

  it('holds the lock against guesses sent in parallel: no more than LOGIN_LOCK_AFTER are checked, a right one among them included', async () => {
    const member = await provisionMember(stack);
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => login(new Client(stack.url), member.codiceFiscale, i === 11 ? member.password : `Sbagliata#${i}`)),
    );
    const statuses = guesses.map((g) => g.status);
    // Each checked guess is a 401 (or the 200 of the right one); all the others are refused unchecked.
    expect(statuses.filter((s) => s === 401 || s === 200).length).toBeLessThanOrEqual(LOCK_AFTER);
    expect(statuses.filter((s) => s === 423).length).toBeGreaterThanOrEqual(12 - LOCK_AFTER);
    const checked = await stack.pool.query(`select count(*)::int as n from audit_events where subject_id = $1 and event = 'login_failed' and not details ? 'refused'`, [member.id]);
    expect(checked.rows[0].n).toBeLessThanOrEqual(LOCK_AFTER);
  });

  it('keeps an account that parallel guesses locked locked: the right password is refused until the lock ends', async () => {
    const member = await provisionMember(stack);
    const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(new Client(stack.url), member.codiceFiscale, `Sbagliata#${i}`)));
    expect(guesses.filter((g) => g.status === 423).length).toBeGreaterThanOrEqual(12 - LOCK_AFTER + 1);
    const right = await login(new Client(stack.url), member.codiceFiscale, member.password);
    expect(right.status).toBe(423);
    expect(right.body).toMatchObject({ error: 'account_locked', retryAfter: expect.any(Number) });
  });

  it('counts only failures against a client address: successful logins give their attempt back', async () => {
    const member = await provisionMember(stack);
    const client = new Client(stack.url);
    for (let attempt = 0; attempt <= IP_MAX_FAILURES; attempt++) {
      expect((await login(client, member.codiceFiscale, member.password)).status).toBe(200);
    }
    const bucket = await stack.pool.query('select hits from rate_limits where bucket = $1', [`login-failures:${addressKey(client.clientAddress)}`]);
    expect(bucket.rows).toEqual([{ hits: 0 }]);
  });

  it('answers 429 to a client address after LOGIN_IP_MAX_FAILURES failures, whatever the account, and only to that address', async () => {
    const member = await provisionMember(stack);
    const client = new Client(stack.url);
    // Every failure on a different username: no account lock gets in the way.
    for (let attempt = 0; attempt < IP_MAX_FAILURES; attempt++) {
      expect((await login(client, randomCodiceFiscale(), 'Sbagliata#123')).status).toBe(401);
    }
    const limited = await login(client, member.codiceFiscale, member.password);
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: 'too_many_requests', message: expect.any(String), retryAfter: expect.any(Number) });
    expect(limited.body.retryAfter).toBeGreaterThan(0);
    expect(limited.body.retryAfter).toBeLessThanOrEqual(600);
    expect(limited.headers.get('retry-after')).toBe(String(limited.body.retryAfter));
    expect(sessionCookieOf(limited)).toBeUndefined();

    const bucket = await stack.pool.query('select hits from rate_limits where bucket = $1', [`login-failures:${addressKey(client.clientAddress)}`]);
    expect(bucket.rows).toEqual([{ hits: IP_MAX_FAILURES }]);
    // The refused attempt counted against nobody's account.
    expect((await throttleOf(`subject:${member.id}`))?.failures ?? 0).toBe(0);
    // Another address logs in.
    expect((await login(new Client(stack.url), member.codiceFiscale, member.password)).status).toBe(200);
  });

  it('spends as much CPU on an unknown username as on a wrong password: the unknown one is verified against a dummy hash', async () => {
    // CPU, not wall-clock time: argon2 runs on the thread pool of this process, where the stack runs.
    const COUNT = 6;
    const members = await Promise.all(Array.from({ length: COUNT }, () => provisionMember(stack)));
    const cpuOf = async (logins: (() => Promise<Reply>)[]) => {
      const before = process.cpuUsage();
      for (const attempt of logins) expect((await attempt()).status).toBe(401);
      const { user, system } = process.cpuUsage(before);
      return user + system;
    };
    const wrongPassword = await cpuOf(members.map((m) => () => login(new Client(stack.url), m.codiceFiscale, 'Sbagliata#123')));
    const unknownUsername = await cpuOf(members.map(() => () => login(new Client(stack.url), randomCodiceFiscale(), 'Sbagliata#123')));
    expect(unknownUsername).toBeGreaterThanOrEqual(wrongPassword / 2);
  });

  it('counts an IPv6 client by its /64: failures from two addresses of one /64 share the limit, the next /64 has its own', async () => {
    const member = await provisionMember(stack);
    const prefix = site();
    const subnet = randomBytes(2).readUInt16BE();
    const [first, second] = [new Client(stack.url, `${prefix}:${subnet.toString(16)}::a`), new Client(stack.url, `${prefix.toUpperCase()}:${subnet.toString(16)}:0:0:0:B`)];
    const neighbour = new Client(stack.url, `${prefix}:${(subnet ^ 1).toString(16)}::a`);
    for (let attempt = 0; attempt < IP_MAX_FAILURES; attempt++) {
      expect((await login(attempt % 2 ? second : first, randomCodiceFiscale(), 'Sbagliata#123')).status).toBe(401);
    }
    expect((await login(first, member.codiceFiscale, member.password)).status).toBe(429);
    expect((await login(second, member.codiceFiscale, member.password)).status).toBe(429);
    expect((await login(neighbour, member.codiceFiscale, member.password)).status).toBe(200);
  });

  it('audits a login refused before any password check (423 locked, 429 address over its limit) as login_failed, the first per address and minute, with no secret', async () => {
    const refusals = async (subjectId: string) =>
      (await stack.pool.query(`select ip, request_id, details from audit_events where subject_id = $1 and event = 'login_failed' and details ? 'refused'`, [subjectId])).rows;

    const lockedOut = await provisionMember(stack);
    const client = new Client(stack.url);
    for (let attempt = 1; attempt <= LOCK_AFTER; attempt++) await login(client, lockedOut.codiceFiscale, `Sbagliata#${attempt}`);
    expect(await refusals(lockedOut.id)).toEqual([]);
    const locked = await login(client, lockedOut.codiceFiscale, lockedOut.password);
    expect(locked.status).toBe(423);
    expect(await refusals(lockedOut.id)).toEqual([{ ip: client.clientAddress, request_id: locked.headers.get('x-request-id'), details: { refused: 'account_locked' } }]);
    // A flood of refusals from the address adds nothing within the minute: the audit log does not grow at its rate.
    for (let i = 0; i < 3; i++) expect((await login(client, lockedOut.codiceFiscale, lockedOut.password)).status).toBe(423);
    expect(await refusals(lockedOut.id)).toHaveLength(1);

    const limitedOut = await provisionMember(stack);
    const limitedClient = new Client(stack.url);
    for (let attempt = 0; attempt < IP_MAX_FAILURES; attempt++) await login(limitedClient, randomCodiceFiscale(), 'Sbagliata#123');
    const limited = await login(limitedClient, limitedOut.codiceFiscale, limitedOut.password);
    expect(limited.status).toBe(429);
    expect(await refusals(limitedOut.id)).toEqual([
      { ip: limitedClient.clientAddress, request_id: limited.headers.get('x-request-id'), details: { refused: 'too_many_requests' } },
    ]);
  });

  it('forgets failures older than LOGIN_LOCK_FOR: a typo long after the last one counts from 1 again', async () => {
    const member = await provisionMember(stack);
    const key = `subject:${member.id}`;
    // The last failure is made older in Postgres rather than waited for.
    const lastFailureAgo = (ms: number) =>
      stack.pool.query('update login_throttle set last_failure_at = now() - make_interval(secs => $2::double precision / 1000) where key = $1', [key, ms]);

    expect((await login(new Client(stack.url), member.codiceFiscale, 'Sbagliata#1')).status).toBe(401);
    await lastFailureAgo(LOCK_FOR_MS / 2);
    expect((await login(new Client(stack.url), member.codiceFiscale, 'Sbagliata#2')).status).toBe(401);
    expect(await throttleOf(key)).toEqual({ failures: 2, locked: false });

    await lastFailureAgo(LOCK_FOR_MS + 1_000);
    // Without forgetting, this would be failure LOGIN_LOCK_AFTER, and lock the account.
    expect((await login(new Client(stack.url), member.codiceFiscale, 'Sbagliata#3')).status).toBe(401);
    expect(await throttleOf(key)).toEqual({ failures: 1, locked: false });
  });

  it('lets a client holding a live session cookie but no CSRF token log in again; logging out still needs the token', async () => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    // A reload: the cookie stays, the token the page held is gone.
    client.csrfToken = undefined;
    const again = await login(client, member.codiceFiscale, member.password);
    expect(again.status).toBe(200);
    expect(again.body.csrfToken).toEqual(expect.any(String));

    client.csrfToken = undefined;
    const out = await client.delete('/api/session');
    expect(out.status).toBe(403);
    expect(out.body.error).toBe('csrf_invalid');
  });

  it.each([
    { what: 'malformed JSON', body: '{"username":', status: 400, error: 'invalid_request' },
    { what: 'a missing password', body: { username: 'RSSMRA80A01H501U' }, status: 400, error: 'invalid_request' },
    { what: 'a username that is not a string', body: { username: 123456, password: 'Primo#Accesso1' }, status: 400, error: 'invalid_request' },
    { what: 'an empty username', body: { username: '   ', password: 'Primo#Accesso1' }, status: 400, error: 'invalid_request' },
    { what: 'an over-long username', body: { username: 'A'.repeat(65), password: 'Primo#Accesso1' }, status: 400, error: 'invalid_request' },
    { what: 'an array', body: [], status: 400, error: 'invalid_request' },
    { what: 'a JSON string', body: '"RSSMRA80A01H501U"', status: 400, error: 'invalid_request' },
    { what: 'a form instead of JSON', body: 'username=123456&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 400, error: 'invalid_request' },
    { what: 'a body over 32 kB', body: { username: 'RSSMRA80A01H501U', password: 'x'.repeat(40 * 1024) }, status: 413, error: 'payload_too_large' },
  ])('answers $what with a JSON $status and counts nothing', async ({ body, headers, status, error }) => {
    const client = new Client(stack.url);
    const res = await client.request('POST', '/api/session', body, { ...headers });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ error, message: expect.any(String) });
    expect(sessionCookieOf(res)).toBeUndefined();
    const counted = await stack.pool.query('select 1 from rate_limits where bucket = $1', [`login-failures:${addressKey(client.clientAddress)}`]);
    expect(counted.rowCount).toBe(0);
  });
});

describe('first-access and expired passwords', () => {
  it('a first-access password opens only GET /api/me, the password change and logout', async () => {
    const member = await provisionMember(stack);
    const { client, res } = await loggedIn(member);
    expect(res.body.requiredActions).toContain('change_password');

    const pin = await client.post('/api/me/pin');
    expect(pin.status).toBe(403);
    expect(pin.body).toEqual({ error: 'password_change_required', message: expect.any(String) });
    expect((await stack.pool.query('select 1 from pins where subject_id = $1', [member.id])).rowCount).toBe(0);

    const me = await client.get('/api/me');
    expect(me.status).toBe(200);
    expect(me.body.requiredActions).toEqual(['change_password', 'register_secure_channel']);

    await changePassword(client, member.password, NEW_PASSWORD);
    expect((await client.get('/api/me')).body.requiredActions).toEqual(['register_secure_channel']);
    // Past the password gate, the PIN route answers on its own terms.
    expect((await client.post('/api/me/pin')).body.error).toBe('secure_channel_required');
    expect((await client.delete('/api/session')).status).toBe(204);
  });

  it('a password older than PASSWORD_MAX_AGE lets the user in only to change it', async () => {
    const member = await provisionMember(stack);
    const { client: first } = await loggedIn(member);
    await changePassword(first, member.password, NEW_PASSWORD);
    const age = (interval: string) => stack.pool.query(`update credentials set changed_at = now() - $2::interval where subject_id = $1`, [member.id, interval]);

    await age('89 days 23 hours');
    const young = await loggedIn(member, NEW_PASSWORD);
    expect(young.res.body.requiredActions).toEqual(['register_secure_channel']);

    await age('90 days 1 minute');
    const { client, res } = await loggedIn(member, NEW_PASSWORD);
    expect(res.body.requiredActions).toEqual(['change_password', 'register_secure_channel']);
    const me = await client.get('/api/me');
    expect(me.body.requiredActions).toEqual(['change_password', 'register_secure_channel']);
    expect(Date.parse(me.body.passwordExpiresAt)).toBeLessThan(Date.now());
    expect((await client.post('/api/me/pin')).body.error).toBe('password_change_required');
    // A session opened before the password expired is held to it as well.
    expect((await first.post('/api/me/pin')).body.error).toBe('password_change_required');

    await changePassword(client, NEW_PASSWORD, 'Ancora#Nuova10');
    const renewed = await client.get('/api/me');
    expect(renewed.body.requiredActions).toEqual(['register_secure_channel']);
    expect(Math.abs(Date.parse(renewed.body.passwordExpiresAt) - (Date.now() + 90 * 86_400_000))).toBeLessThan(60_000);
  });
});

describe('DELETE /api/session', () => {
  it('ends the session on the server and clears the cookie', async () => {
    const member = await provisionMember(stack);
    const { client, res } = await loggedIn(member);
    const token = tokenOf(res);

    const out = await client.delete('/api/session');
    expect(out.status).toBe(204);
    const cleared = sessionCookieOf(out);
    expect(cleared).toMatch(/^varco_session=;/);
    expect(cleared).toMatch(/expires=Thu, 01 Jan 1970/i);
    expect(cleared).toMatch(/;\s*Secure(;|$)/i);
    expect(client.hasCookie('varco_session')).toBe(false);

    const me = await client.get('/api/me');
    expect(me.status).toBe(401);
    expect(me.body).toEqual({ error: 'unauthenticated', message: expect.any(String) });
    // The old cookie, replayed, is worth nothing: the server ended the session.
    const replayed = await fetch(`${stack.url}/api/me`, { headers: { cookie: `varco_session=${token}` } });
    expect(replayed.status).toBe(401);
    expect((await stack.pool.query('select 1 from sessions where subject_id = $1', [member.id])).rowCount).toBe(0);
    expect((await client.delete('/api/session')).status).toBe(401);
  });
});

describe('argon2 parameters', () => {
  it('re-hashes a password made with other parameters at the next successful login, once', async () => {
    const member = await provisionMember(stack);
    const original = await hashOf(member.id);
    expect(original).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    // A failure changes nothing.
    expect((await login(new Client(rehashing.url), member.codiceFiscale, 'Sbagliata#123')).status).toBe(401);
    expect(await hashOf(member.id)).toBe(original);

    const client = new Client(rehashing.url);
    expect((await login(client, member.codiceFiscale, member.password)).status).toBe(200);
    const rehashed = await hashOf(member.id);
    expect(rehashed).toMatch(/^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
    expect(await verify(rehashed, member.password)).toBe(true);

    // Still the same password: its life, its first-access mark and the history are untouched.
    const { rows } = await stack.pool.query(
      `select c.must_change, (select count(*)::int from password_history h where h.subject_id = c.subject_id) as history
       from credentials c where c.subject_id = $1`,
      [member.id],
    );
    expect(rows[0]).toEqual({ must_change: true, history: 0 });

    expect((await login(new Client(rehashing.url), member.matricola, member.password)).status).toBe(200);
    const audit = await stack.pool.query(`select ip, request_id, details from audit_events where subject_id = $1 and event = 'password_rehashed'`, [member.id]);
    expect(audit.rows).toEqual([{ ip: client.clientAddress, request_id: expect.any(String), details: {} }]);
  });
});

describe('addressKey', () => {
  it('keys IPv6 by its /64 whatever its spelling, and IPv4 (mapped or not) per address', () => {
    expect(addressKey('2001:db8:1:2::a')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:ffff:0:0:b')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1::2:0:0:c')).toBe('2001:db8:1:0::/64');
    expect(addressKey('2001:db8:1:3::a')).toBe('2001:db8:1:3::/64');
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('203.0.113.8')).toBe('203.0.113.8');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:cb00:7107')).toBe('203.0.113.7');
  });
});
