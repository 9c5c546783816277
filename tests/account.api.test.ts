import { verify } from '@node-rs/argon2';
import type { ScheduleHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser as Client } from './support/http.js';
import { generatePin, secureChannelOf } from '../activities/account.js';
import { PasswordHasher } from '../activities/credentials.js';
import { Outbox } from '../activities/outbox.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { until } from './support/until.js';
import { provisionMember, type TestMember } from './support/subjects.js';

/**
 * P0 "Gestione account" over HTTP (issue 4): the profile, the password change and its rules,
 * CSRF, the PIN dispositivo, the audit log and the password-expiry reminders.
 */

const LOCK_AFTER = 3;

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack(
    {
      LOGIN_LOCK_AFTER: String(LOCK_AFTER),
      LOGIN_LOCK_FOR: '2s',
      LOGIN_DELAY_BASE: '10ms',
      // This file's reminders run on the shared database: with a notice period of its own, a
      // password expiring in 20 days is due here and nowhere else.
      PASSWORD_EXPIRY_NOTICE: '30d',
    },
    { schedules: true },
  );
});
afterAll(async () => {
  await stack?.stop();
});


async function loggedIn(member: TestMember, password = member.password, client = new Client(stack.url)) {
  const res = await client.post('/api/session', { username: member.codiceFiscale, password });
  expect(res.status).toBe(200);
  return { client, res };
}

const change = (client: Client, currentPassword: string, newPassword: string, confirmPassword = newPassword) =>
  client.post('/api/me/password', { currentPassword, newPassword, confirmPassword });

async function changeTo(client: Client, currentPassword: string, newPassword: string) {
  const res = await change(client, currentPassword, newPassword);
  expect(res.status, JSON.stringify(res.body)).toBe(204);
}

/** A member past the first access, logged in, with its password changed to `password`. */
async function activeMember(password = 'Attiva#Password1') {
  const member = await provisionMember(stack);
  const { client, res } = await loggedIn(member);
  await changeTo(client, member.password, password);
  return { member, client, password, login: res };
}

/** The secure channel the registration (P1) would leave behind: SMS to the member's mobile. */
async function registerSmsChannel(member: TestMember) {
  await stack.pool.query(
    `insert into secure_channels (subject_id, channel, contact_id)
     select subject_id, 'sms', id from contacts where subject_id = $1 and kind = 'mobile'`,
    [member.id],
  );
}

const credentialsOf = async (subjectId: string) =>
  (await stack.pool.query<{ hash: string; changed_at: Date; must_change: boolean }>('select hash, changed_at, must_change from credentials where subject_id = $1', [subjectId])).rows[0]!;
const auditEvents = async (subjectId: string, event: string) =>
  (await stack.pool.query('select 1 from audit_events where subject_id = $1 and event = $2', [subjectId, event])).rowCount;
/** The 8-digit PIN in a message, not a slice of a longer number. */
const pinIn = (text: string) => /(?<!\d)(\d{8})(?!\d)/.exec(text)?.[1];
const contains = (haystack: string, needle: string) => new RegExp(`(?<!\\d)${needle}(?!\\d)`).test(haystack);
const DAY = 86_400_000;

describe('GET /api/me', () => {
  it('shows masked contacts only, no secure channel before registration, the password expiry and the required actions', async () => {
    const member = await provisionMember(stack);
    expect((await new Client(stack.url).get('/api/me')).status).toBe(401);
    const { client, res } = await loggedIn(member);

    const me = await client.get('/api/me');
    expect(me.status).toBe(200);
    const { changed_at } = await credentialsOf(member.id);
    expect(me.body).toEqual({
      subject: { id: member.id, kind: 'member', displayName: 'Mario Rossi', codiceFiscale: member.codiceFiscale, matricola: member.matricola, username: null, codiceAderente: null },
      contacts: expect.any(Array),
      secureChannel: null,
      passwordExpiresAt: new Date(changed_at.getTime() + 90 * DAY).toISOString(),
      requiredActions: ['change_password', 'register_secure_channel'],
      csrfToken: res.body.csrfToken,
    });
    expect(me.body.contacts).toHaveLength(3);
    expect(me.body.contacts).toEqual(
      expect.arrayContaining([
        { id: expect.any(String), kind: 'email', masked: `${member.email.slice(0, 2)}${'*'.repeat(member.email.indexOf('@') - 2)}@example.it`, certified: true },
        { id: expect.any(String), kind: 'pec', masked: expect.stringMatching(/^\w{2}\*+@geopec\.it$/), certified: true },
        { id: expect.any(String), kind: 'mobile', masked: `+39 *** **** ${member.mobile.slice(-3)}`, certified: true },
      ]),
    );
    const text = JSON.stringify(me.body).toLowerCase();
    for (const secret of [member.email, member.pec, member.mobile, member.mobile.slice(3)]) {
      expect(text).not.toContain(secret.toLowerCase());
    }

    await registerSmsChannel(member);
    const registered = await client.get('/api/me');
    const mobile = registered.body.contacts.find((c: { kind: string }) => c.kind === 'mobile');
    expect(registered.body.secureChannel).toEqual({ channel: 'sms', contactId: mobile.id, masked: mobile.masked, registeredAt: expect.any(String) });
    expect(registered.body.requiredActions).toEqual(['change_password']);
    expect(JSON.stringify(registered.body)).not.toContain(member.mobile);
  });
});

describe('POST /api/me/password', () => {
  it('reports every rule the new password breaks at once, and changes nothing', async () => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    const before = await credentialsOf(member.id);

    const res = await change(client, member.password, 'abc', 'abd');
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      error: 'password_policy',
      message: expect.any(String),
      violations: ['too_short', 'no_upper', 'no_digit', 'no_special', 'confirmation_mismatch'],
      messages: expect.any(Array),
    });
    expect(res.body.messages).toHaveLength(5);

    const mismatch = await change(client, member.password, 'Nuova#Password9', 'Nuova#Password8');
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.violations).toEqual(['confirmation_mismatch']);

    for (const identifier of [member.codiceFiscale, member.codiceFiscale.toLowerCase(), member.matricola]) {
      const candidate = `Ab#1${identifier}`;
      const contained = await change(client, member.password, candidate);
      expect(contained.status, candidate).toBe(422);
      expect(contained.body.violations).toEqual(['contains_username']);
    }

    expect(await credentialsOf(member.id)).toEqual(before);
    expect(await auditEvents(member.id, 'password_changed')).toBe(0);
  });

  it('refuses a wrong current password with 422, and locks the account after LOGIN_LOCK_AFTER of them', async () => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    const { client: other } = await loggedIn(member);
    const before = await credentialsOf(member.id);

    for (let attempt = 1; attempt < LOCK_AFTER; attempt++) {
      const wrong = await change(client, `Sbagliata#${attempt}`, 'Nuova#Password9');
      expect(wrong.status).toBe(422);
      expect(wrong.body).toEqual({ error: 'current_password_invalid', message: expect.any(String) });
    }
    expect((await client.get('/api/me')).status).toBe(200);

    const locked = await change(client, 'Sbagliata#3', 'Nuova#Password9');
    expect(locked.status).toBe(423);
    expect(locked.body).toEqual({ error: 'account_locked', message: expect.any(String), retryAfter: 2 });
    expect(locked.headers.get('retry-after')).toBe('2');
    // Every session ended, this one and the other; the right password waits for the lock too.
    expect(client.hasCookie('varco_session')).toBe(false);
    expect((await other.get('/api/me')).status).toBe(401);
    expect((await new Client(stack.url).post('/api/session', { username: member.matricola, password: member.password })).status).toBe(423);
    expect(await credentialsOf(member.id)).toEqual(before);
  });

  it('checks no more than LOGIN_LOCK_AFTER current passwords sent in parallel', async () => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    const before = await credentialsOf(member.id);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => change(client, `Sbagliata#${i}`, 'Nuova#Password9')));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 422).length).toBeLessThan(LOCK_AFTER);
    expect(statuses.filter((s) => s === 423).length).toBeGreaterThanOrEqual(10 - LOCK_AFTER);
    const failed = await stack.pool.query(`select count(*)::int as n from audit_events where subject_id = $1 and event = 'login_failed'`, [member.id]);
    expect(failed.rows[0].n).toBeLessThanOrEqual(LOCK_AFTER);
    expect(await credentialsOf(member.id)).toEqual(before);
  });

  it('the right current password clears the failures counted before it, as a successful login does', async () => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    for (let attempt = 1; attempt < LOCK_AFTER; attempt++) {
      expect((await change(client, `Sbagliata#${attempt}`, 'Nuova#Password9')).status).toBe(422);
    }
    await changeTo(client, member.password, 'Nuova#Password9');
    // One typo at the next login is one failure, not the one that locks the account.
    const typo = await new Client(stack.url).post('/api/session', { username: member.matricola, password: 'Nuova#Password8' });
    expect(typo.status).toBe(401);
    expect((await loggedIn(member, 'Nuova#Password9')).res.status).toBe(200);
  });

  it('refuses the current password and the four before it; the sixth-oldest is allowed again', async () => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    const passwords = [member.password, 'Prima#Nuova1', 'Seconda#Nuova2', 'Terza#Nuova3', 'Quarta#Nuova4', 'Quinta#Nuova5'];
    for (let i = 1; i < passwords.length; i++) await changeTo(client, passwords[i - 1]!, passwords[i]!);
    const current = passwords.at(-1)!;

    for (const old of passwords.slice(1)) {
      const res = await change(client, current, old);
      expect(res.status, old).toBe(422);
      expect(res.body).toMatchObject({ error: 'password_policy', violations: ['recently_used'] });
    }
    // Every rule at once: a reused password that also breaks another rule reports both.
    const both = await change(client, current, passwords[1]!, 'altra');
    expect(both.body.violations).toEqual(['recently_used', 'confirmation_mismatch']);

    await changeTo(client, current, passwords[0]!);
    expect((await loggedIn(member, passwords[0]!)).res.status).toBe(200);
  });

  it('a successful change ends every other session of the subject, keeps this one, and starts a new 90-day life', async () => {
    const member = await provisionMember(stack);
    const bystander = await provisionMember(stack);
    const { client } = await loggedIn(member);
    const { client: other } = await loggedIn(member);
    const { client: someoneElse } = await loggedIn(bystander);
    await stack.pool.query(`update credentials set changed_at = now() - interval '30 days' where subject_id = $1`, [member.id]);
    const before = await client.get('/api/me');
    expect(Math.abs(Date.parse(before.body.passwordExpiresAt) - (Date.now() + 60 * DAY))).toBeLessThan(60_000);

    await changeTo(client, member.password, 'Nuova#Password9');

    const me = await client.get('/api/me');
    expect(me.status).toBe(200);
    expect(me.body.requiredActions).toEqual(['register_secure_channel']);
    expect(Math.abs(Date.parse(me.body.passwordExpiresAt) - (Date.now() + 90 * DAY))).toBeLessThan(60_000);
    expect((await other.get('/api/me')).status).toBe(401);
    expect((await someoneElse.get('/api/me')).status).toBe(200);

    const { hash, must_change } = await credentialsOf(member.id);
    expect(must_change).toBe(false);
    expect(await verify(hash, 'Nuova#Password9')).toBe(true);
    expect((await new Client(stack.url).post('/api/session', { username: member.matricola, password: member.password })).status).toBe(401);
    expect((await loggedIn(member, 'Nuova#Password9')).res.body.requiredActions).toEqual(['register_secure_channel']);
  });

  it.each([
    { what: 'malformed JSON', body: '{"currentPassword":', status: 400, error: 'invalid_request' },
    { what: 'a missing confirmation', body: { currentPassword: 'Primo#Accesso1', newPassword: 'Nuova#Password9' }, status: 400, error: 'invalid_request' },
    { what: 'a new password that is not a string', body: { currentPassword: 'Primo#Accesso1', newPassword: 123456789, confirmPassword: 123456789 }, status: 400, error: 'invalid_request' },
    { what: 'a body over 32 kB', body: { currentPassword: 'Primo#Accesso1', newPassword: 'Aa#1'.repeat(10_000), confirmPassword: 'x' }, status: 413, error: 'payload_too_large' },
  ])('answers $what with a JSON $status and changes nothing', async ({ body, status, error }) => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    const before = await credentialsOf(member.id);
    const res = await client.request('POST', '/api/me/password', body);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error, message: expect.any(String) });
    expect(await credentialsOf(member.id)).toEqual(before);
    expect((await client.get('/api/me')).status).toBe(200);
  });
});

describe('invalid input', () => {
  it('words the problem of a mistyped field in Italian', async () => {
    const res = await new Client(stack.url).post('/api/session', { username: 12345, password: 'Primo#Accesso1' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'invalid_request',
      message: expect.any(String),
      fields: [{ field: 'username', problem: expect.stringMatching(/^Input non valido: atteso string, ricevuto numero$/) }],
    });
  });
});

describe('CSRF', () => {
  it('refuses a state-changing request with the session cookie but without the right X-CSRF-Token, and changes nothing', async () => {
    const member = await provisionMember(stack);
    const { client } = await loggedIn(member);
    const { client: other } = await loggedIn(await provisionMember(stack));
    const token = client.csrfToken!;
    const before = await credentialsOf(member.id);
    const body = { currentPassword: member.password, newPassword: 'Nuova#Password9', confirmPassword: 'Nuova#Password9' };

    client.csrfToken = undefined;
    for (const wrong of [undefined, '', 'x'.repeat(token.length), other.csrfToken!]) {
      const headers: Record<string, string> = wrong === undefined ? {} : { 'x-csrf-token': wrong };
      const changed = await client.post('/api/me/password', body, headers);
      expect(changed.status, String(wrong)).toBe(403);
      expect(changed.body).toEqual({ error: 'csrf_invalid', message: expect.any(String) });
      expect((await client.delete('/api/session', headers)).body.error).toBe('csrf_invalid');
    }
    expect(await credentialsOf(member.id)).toEqual(before);
    expect(await auditEvents(member.id, 'password_changed')).toBe(0);
    expect(await auditEvents(member.id, 'logout')).toBe(0);
    expect((await client.get('/api/me')).status).toBe(200);

    // The same request with the token goes through: only the token was missing.
    client.csrfToken = token;
    expect((await client.post('/api/me/password', body)).status).toBe(204);
  });
});

describe('POST /api/me/pin', () => {
  it('needs a secure channel', async () => {
    const { member, client } = await activeMember();
    const res = await client.post('/api/me/pin');
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'secure_channel_required', message: expect.any(String) });
    expect((await stack.pool.query('select 1 from pins where subject_id = $1', [member.id])).rowCount).toBe(0);
    expect(stack.captures!.list(member.mobile)).toHaveLength(0);
  });

  it('sends a new 8-digit PIN over the secure channel only, and keeps just its argon2id hash', async () => {
    const { member, client } = await activeMember();
    await registerSmsChannel(member);

    const res = await client.post('/api/me/pin');
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ deliveredTo: { channel: 'sms', masked: `+39 *** **** ${member.mobile.slice(-3)}` } });
    const sms = await stack.captures!.waitFor(member.mobile, (m) => pinIn(m.text) !== undefined);
    const pin = pinIn(sms.text)!;
    expect(stack.captures!.list(member.email)).toHaveLength(0);

    expect(contains(JSON.stringify(res.body), pin)).toBe(false);
    expect(contains(stack.logLines.join('\n'), pin)).toBe(false);
    const { rows } = await stack.pool.query<{ hash: string }>('select hash from pins where subject_id = $1', [member.id]);
    expect(rows[0]!.hash).toMatch(/^\$argon2id\$/);
    expect(rows[0]!.hash).not.toContain(pin);
    expect(await verify(rows[0]!.hash, pin)).toBe(true);
    expect(await verify(rows[0]!.hash, String((Number(pin) + 1) % 1e8).padStart(8, '0'))).toBe(false);
    const outbox = await stack.pool.query<{ sealed_body: string }>('select sealed_body from outbox where subject_id = $1', [member.id]);
    expect(outbox.rows.map((r) => r.sealed_body).join('\n')).not.toContain(pin);

    // A new PIN replaces the old one.
    expect((await client.post('/api/me/pin')).status).toBe(202);
    const second = await stack.captures!.waitFor(member.mobile, (m) => pinIn(m.text) !== undefined && pinIn(m.text) !== pin);
    const { rows: after } = await stack.pool.query<{ hash: string }>('select hash from pins where subject_id = $1', [member.id]);
    expect(after).toHaveLength(1);
    expect(await verify(after[0]!.hash, pinIn(second.text)!)).toBe(true);
    expect(await verify(after[0]!.hash, pin)).toBe(false);
  });
});

describe('PIN budget', () => {
  it('answers 429 once a subject has asked for PIN_REQUESTS_PER_HOUR PINs in an hour, and sends nothing more', async () => {
    const { member, client } = await activeMember();
    await registerSmsChannel(member);
    for (let i = 0; i < stack.config.pinRequestsPerHour; i++) expect((await client.post('/api/me/pin')).status).toBe(202);
    const limited = await client.post('/api/me/pin');
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: 'too_many_requests', retryAfter: expect.any(Number) });
    expect(stack.captures!.list(member.mobile).filter((m) => pinIn(m.text))).toHaveLength(stack.config.pinRequestsPerHour);
  });

  it('answers 409 to a subject without a secure channel without spending its budget', async () => {
    const { member, client } = await activeMember();
    for (let i = 0; i <= stack.config.pinRequestsPerHour; i++) expect((await client.post('/api/me/pin')).status).toBe(409);
    await registerSmsChannel(member);
    expect((await client.post('/api/me/pin')).status).toBe(202);
  });
});

describe('PIN delivery', () => {
  it('keeps the PIN issued last when two requests finish out of order', async () => {
    const { member } = await activeMember();
    await registerSmsChannel(member);
    const channel = (await secureChannelOf(stack.pool, member.id))!;
    // The real capture, with the first delivery held until the second request has finished.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let deliveries = 0;
    const transports = { ...stack.transports, sendSms: async (message: Parameters<typeof stack.transports.sendSms>[0]) => {
      if (deliveries++ === 0) await held;
      return stack.transports.sendSms(message);
    } };
    const deps = { pool: stack.pool, hasher: new PasswordHasher(stack.config.argon2), outbox: new Outbox(stack.pool, stack.secrets.keyring, transports), policy: { lockAfter: 5, lockForMs: 1000, delayBaseMs: 0, delayMaxMs: 0 } };
    const request = { ip: '2001:db8::1', requestId: 'pin-race' };

    const first = generatePin(deps, member.id, channel, request);
    await until(async () => deliveries, (n) => n === 1, 'the first delivery to start');
    expect(await generatePin(deps, member.id, channel, request)).toMatchObject({ ok: true });
    const issuedLast = pinIn((await stack.captures!.waitFor(member.mobile, (m) => pinIn(m.text) !== undefined)).text)!;
    release();
    expect(await first).toMatchObject({ ok: true });
    await stack.captures!.waitFor(member.mobile, () => stack.captures!.list(member.mobile).filter((m) => pinIn(m.text)).length === 2);

    const { rows } = await stack.pool.query<{ hash: string }>('select hash from pins where subject_id = $1', [member.id]);
    expect(await verify(rows[0]!.hash, issuedLast)).toBe(true);
  });

  it('keeps the previous PIN when the new one cannot be delivered, and audits the failure instead of a new PIN', async () => {
    const { member, client } = await activeMember();
    await registerSmsChannel(member);
    expect((await client.post('/api/me/pin')).status).toBe(202);
    const pin = pinIn((await stack.captures!.waitFor(member.mobile, (m) => pinIn(m.text) !== undefined)).text)!;
    const pinHash = async () => (await stack.pool.query<{ hash: string }>('select hash from pins where subject_id = $1', [member.id])).rows[0]!.hash;
    const before = await pinHash();

    await stack.pool.query(`update contacts set value = '+39-non-valido' where subject_id = $1 and kind = 'mobile'`, [member.id]);
    expect((await client.post('/api/me/pin')).status).toBe(502);
    expect(await pinHash()).toBe(before);
    expect(await verify(before, pin)).toBe(true);
    expect(await auditEvents(member.id, 'pin_generated')).toBe(1);
    expect(await auditEvents(member.id, 'pin_delivery_failed')).toBe(1);
  });

  it('answers 502 delivery_failed, not 500, when the provider refuses the message', async () => {
    const { member, client } = await activeMember();
    // A number Twilio's API refuses: only a registry fault could leave one behind.
    await stack.pool.query(`update contacts set value = '+39-non-valido' where subject_id = $1 and kind = 'mobile'`, [member.id]);
    await registerSmsChannel(member);
    const res = await client.post('/api/me/pin');
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'delivery_failed', message: expect.any(String) });
    // Left to the user, who was told: the relay must not send a PIN later.
    const { rows } = await stack.pool.query(`select status, redeliver from outbox where subject_id = $1 and idempotency_key like 'pin/%'`, [member.id]);
    expect(rows).toEqual([{ status: 'pending', redeliver: false }]);
  });
});

describe('audit log', () => {
  it('records login, failures, lock, logout, password change and PIN with subject, address and request id, and no secret', async () => {
    const member = await provisionMember(stack);
    const client = new Client(stack.url);
    const newPassword = 'Nuova#Password9';

    const login = await client.post('/api/session', { username: member.codiceFiscale, password: member.password });
    expect(login.status).toBe(200);
    await changeTo(client, member.password, newPassword);
    await registerSmsChannel(member);
    expect((await client.post('/api/me/pin')).status).toBe(202);
    const pin = pinIn((await stack.captures!.waitFor(member.mobile, (m) => pinIn(m.text) !== undefined)).text)!;
    expect((await client.delete('/api/session')).status).toBe(204);
    const wrong = ['Sbagliata#1', 'Sbagliata#2', 'Sbagliata#3'];
    for (const password of wrong) await client.post('/api/session', { username: member.matricola, password });

    const { rows } = await stack.pool.query<{ event: string; subject_id: string; ip: string; request_id: string; details: unknown }>(
      'select event, subject_id, ip, request_id, details from audit_events where subject_id = $1 and event <> $2 order by id',
      [member.id, 'subject_provisioned'],
    );
    expect(rows.map((r) => r.event)).toEqual(['login', 'password_changed', 'pin_generated', 'logout', 'login_failed', 'login_failed', 'login_failed', 'account_locked']);
    for (const row of rows) {
      expect(row, row.event).toMatchObject({ subject_id: member.id, ip: client.clientAddress, request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    }
    expect(rows[0]!.request_id).toBe(login.headers.get('x-request-id'));
    const details = JSON.stringify(rows.map((r) => r.details));
    for (const secret of [member.password, newPassword, ...wrong]) expect(details).not.toContain(secret);
    expect(contains(details, pin)).toBe(false);
  });
});

describe('password-expiry reminders', () => {
  /** Waits for the schedule to start a run that is not in `seen`, then for that run to finish. */
  async function nextRun(handle: ScheduleHandle, seen: Set<string>) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { info } = await handle.describe();
      const run = info.recentActions.map((a) => a.action.workflow).find((w) => !seen.has(w.firstExecutionRunId));
      if (run) {
        seen.add(run.firstExecutionRunId);
        return stack.client.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result();
      }
      if (Date.now() > deadline) throw new Error('the schedule started no run');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('e-mails once per password about to expire, however often the schedule runs', async () => {
    const member = await provisionMember(stack);
    await stack.pool.query(`update credentials set must_change = false, changed_at = now() - interval '70 days' where subject_id = $1`, [member.id]);
    const { changed_at } = await credentialsOf(member.id);
    const expiresOn = new Intl.DateTimeFormat('it-IT', { timeZone: 'Europe/Rome', day: '2-digit', month: '2-digit', year: 'numeric' }).format(
      new Date(changed_at.getTime() + 90 * DAY),
    );

    const handle = stack.client.schedule.getHandle(`password-expiry-reminders-${stack.config.temporal.taskQueue}`);
    const seen = new Set((await handle.describe()).info.recentActions.map((a) => a.action.workflow.firstExecutionRunId));
    await handle.trigger();
    const first = await nextRun(handle, seen);
    expect(first.notified).toBeGreaterThanOrEqual(1);
    const reminder = (m: { subject: string | null }) => m.subject === 'La tua password sta per scadere';
    const mail = await stack.captures!.waitFor(member.email, reminder);
    expect(mail.text).toContain(expiresOn);

    await handle.trigger();
    await nextRun(handle, seen);
    expect(stack.captures!.list(member.email).filter(reminder)).toHaveLength(1);
    expect(stack.captures!.list(member.mobile)).toHaveLength(0);
    const notices = await stack.pool.query('select 1 from password_expiry_notices where subject_id = $1', [member.id]);
    expect(notices.rowCount).toBe(1);
    expect(await auditEvents(member.id, 'password_expiry_notice_sent')).toBe(1);
  });
});

describe('password age', () => {
  const MAX_AGE_MS = 3_000;
  let shortLived: TestStack;
  beforeAll(async () => {
    shortLived = await startTestStack({ PASSWORD_MAX_AGE: `${MAX_AGE_MS}ms` });
  });
  afterAll(async () => {
    await shortLived?.stop();
  });

  it('requires a password change once PASSWORD_MAX_AGE has passed since the last one, and not before', async () => {
    const member = await provisionMember(shortLived);
    const client = new Client(shortLived.url);
    expect((await client.post('/api/session', { username: member.codiceFiscale, password: member.password })).status).toBe(200);
    expect((await change(client, member.password, 'Nuova#Password9')).status).toBe(204);
    const { changed_at } = await credentialsOf(member.id);
    const expiresAt = changed_at.getTime() + MAX_AGE_MS;

    const deadline = Date.now() + 30_000;
    for (;;) {
      const asked = Date.now();
      const me = await client.get('/api/me');
      expect(me.status).toBe(200);
      expect(Date.parse(me.body.passwordExpiresAt)).toBe(expiresAt);
      if (me.body.requiredActions.includes('change_password')) {
        expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
        break;
      }
      expect(asked).toBeLessThan(expiresAt);
      if (Date.now() > deadline) throw new Error('the password never expired');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await client.post('/api/me/pin')).toMatchObject({ status: 403, body: { error: 'password_change_required' } });
    const again = await new Client(shortLived.url).post('/api/session', { username: member.codiceFiscale, password: 'Nuova#Password9' });
    expect(again.body.requiredActions).toEqual(['change_password', 'register_secure_channel']);
  });
});
