import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/http.js';
import { codeIn, firstAccessPasswordTo, otherCode } from './support/registration.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember, type TestMember } from './support/subjects.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ OTP_TTL: '1500ms', OTP_MAX_ATTEMPTS: '3', OTP_REQUESTS_PER_HOUR: '3' });
});
afterAll(async () => {
  await stack?.stop();
});


async function loggedIn(): Promise<{ member: TestMember; browser: Browser }> {
  const member = await provisionMember(stack);
  const browser = new Browser(stack.url);
  expect((await browser.post('/api/session', { username: member.codiceFiscale, password: member.password })).status).toBe(200);
  return { member, browser };
}

async function started() {
  const { member, browser } = await loggedIn();
  const res = await browser.post('/api/registration');
  const contact = (kind: string) => res.body.view.contacts.find((c: { kind: string }) => c.kind === kind);
  return { member, browser, view: res.body.view, mobile: contact('mobile'), email: contact('email') };
}

describe('registration API: every refusal is a clear 4xx and changes nothing', () => {
  it('needs a session, and answers 404 before a registration was started', async () => {
    expect((await new Browser(stack.url).get('/api/registration')).status).toBe(401);
    const { browser } = await loggedIn();
    const res = await browser.get('/api/registration');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('process_not_found');
  });

  it('starts once (a second POST answers 200 with the running process, audited once), shows masked contacts, and GET returns the same view', async () => {
    const { member, browser, view } = await started();
    expect(view).toMatchObject({ state: 'choosingChannel', status: 'active', nextSteps: ['channel.choose'], attemptsLeft: 3, codeExpiresAt: null });
    expect(JSON.stringify(view)).not.toContain(member.email);
    expect(view.contacts.map((c: { masked: string }) => c.masked)).toContain(`${member.email.slice(0, 2)}${'*'.repeat(14)}@example.it`);
    const handle = stack.client.workflow.getHandle(`registration-${member.id}`);
    const { runId } = await handle.describe();
    const again = await browser.post('/api/registration');
    expect(again.status).toBe(200);
    expect(again.body.view).toEqual(view);
    expect((await handle.describe()).runId).toBe(runId);
    const audited = await stack.pool.query(`select 1 from audit_events where subject_id = $1 and event = 'registration_started'`, [member.id]);
    expect(audited.rowCount).toBe(1);
    expect((await browser.get('/api/registration')).body.view).toEqual(view);
  });

  it('refuses a contact that is not the subject’s own or cannot carry the channel (422), and malformed choices (400)', async () => {
    const other = await started();
    const { browser, mobile, email } = await started();
    const foreign = await browser.post('/api/registration/channel', { channel: 'sms', contactId: other.mobile.id });
    expect(foreign.status).toBe(422);
    expect(foreign.body).toMatchObject({ error: 'contact_not_offered', view: { state: 'choosingChannel' } });
    expect((await browser.post('/api/registration/channel', { channel: 'email', contactId: mobile.id })).status).toBe(422);
    expect((await browser.post('/api/registration/channel', { channel: 'pigeon', contactId: email.id })).status).toBe(400);
    expect((await browser.post('/api/registration/channel', { channel: 'sms', contactId: 'not-a-uuid' })).status).toBe(400);
    expect(stack.captures!.list(other.member.mobile)).toEqual([]);
  });

  it('answers 409 step_not_allowed for a code before any was sent, and 400 for a code that is not 6 digits', async () => {
    const { browser } = await started();
    const early = await browser.post('/api/registration/otp', { code: '123456' });
    expect(early.status).toBe(409);
    expect(early.body.error).toBe('step_not_allowed');
    for (const code of ['12345', '1234567', 'abcdef', 123456]) {
      expect((await browser.post('/api/registration/otp', { code })).status).toBe(400);
    }
  });

  it('answers 409 otp_still_valid with retryAfter while the code lives, 410 once expired, then regenerates', async () => {
    const { member, browser, mobile } = await started();
    expect((await browser.post('/api/registration/channel', { channel: 'sms', contactId: mobile.id })).status).toBe(200);
    const code = codeIn((await stack.captures!.waitFor(member.mobile)).text)!;
    const early = await browser.post('/api/registration/otp/regenerate');
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ error: 'otp_still_valid', retryAfter: expect.any(Number) });
    expect(early.body.retryAfter).toBeGreaterThanOrEqual(1);

    const deadline = Date.now() + 15_000;
    while ((await browser.get('/api/registration')).body.view.state !== 'codeExpired') {
      if (Date.now() > deadline) throw new Error('the code never expired');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const expired = await browser.post('/api/registration/otp', { code });
    expect(expired.status).toBe(410);
    expect(expired.body.error).toBe('otp_expired');
    const fresh = await browser.post('/api/registration/otp/regenerate');
    expect(fresh.status).toBe(200);
    expect(fresh.body.view.state).toBe('codeIssued.awaitingCode');
    await stack.captures!.waitFor(member.mobile, () => stack.captures!.list(member.mobile).length === 2);
  });

  it('answers 423 too_many_attempts on the last wrong code and ends the process', async () => {
    const { member, browser, mobile } = await started();
    await browser.post('/api/registration/channel', { channel: 'sms', contactId: mobile.id });
    const code = codeIn((await stack.captures!.waitFor(member.mobile)).text)!;
    const wrong = otherCode(code);
    expect((await browser.post('/api/registration/otp', { code: wrong })).body).toMatchObject({ error: 'otp_invalid', attemptsLeft: 2 });
    expect((await browser.post('/api/registration/otp', { code: wrong })).body).toMatchObject({ error: 'otp_invalid', attemptsLeft: 1 });
    const locked = await browser.post('/api/registration/otp', { code: wrong });
    expect(locked.status).toBe(423);
    expect(locked.body.error).toBe('too_many_attempts');
    const after = await browser.post('/api/registration/otp', { code });
    expect(after.status).toBe(409);
    const me = await browser.get('/api/me');
    expect(me.body.secureChannel).toBeNull();
    expect(me.body.requiredActions).toContain('register_secure_channel');
    // A new registration, with new attempts, only after REGISTRATION_LOCKOUT.
    const restart = await browser.post('/api/registration');
    expect(restart.status).toBe(423);
    expect(restart.body).toMatchObject({ error: 'registration_locked', retryAfter: expect.any(Number) });
    expect(restart.body.retryAfter).toBeGreaterThan(3000);
  });

  it('limits how many codes a subject can have sent in an hour (429)', async () => {
    const { member, browser, mobile, email } = await started();
    // Each refused choice still counts: the budget is for requests that may send a code.
    expect((await browser.post('/api/registration/channel', { channel: 'email', contactId: mobile.id })).status).toBe(422);
    expect((await browser.post('/api/registration/channel', { channel: 'email', contactId: mobile.id })).status).toBe(422);
    expect((await browser.post('/api/registration/channel', { channel: 'sms', contactId: mobile.id })).status).toBe(200);
    const limited = await browser.post('/api/registration/channel', { channel: 'email', contactId: email.id });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: 'too_many_requests', retryAfter: expect.any(Number) });
    expect(stack.captures!.list(member.email)).toEqual([]);
  });

  it('answers 409 already_registered once the channel is registered', async () => {
    const { member, browser, mobile } = await started();
    await browser.post('/api/registration/channel', { channel: 'sms', contactId: mobile.id });
    const code = codeIn((await stack.captures!.waitFor(member.mobile)).text)!;
    expect((await browser.post('/api/registration/otp', { code })).status).toBe(200);
    const password = await firstAccessPasswordTo(stack, member.mobile);
    const back = new Browser(stack.url);
    await back.post('/api/session', { username: member.codiceFiscale, password });
    await back.post('/api/me/password', { currentPassword: password, newPassword: 'Altra#Password7', confirmPassword: 'Altra#Password7' });
    const again = await back.post('/api/registration');
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('already_registered');
  });
});

describe('registration when a message or a contact fails it', () => {
  it('answers 502 delivery_failed, leaves the code to the user, and keeps the provider\'s error, which quotes the number, encrypted in history', async () => {
    const { member, browser, mobile } = await started();
    await stack.pool.query(`update contacts set value = '+39-non-valido' where id = $1`, [mobile.id]);
    const res = await browser.post('/api/registration/channel', { channel: 'sms', contactId: mobile.id });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error: 'delivery_failed', view: { state: 'choosingChannel' } });

    const { rows } = await stack.pool.query(`select status, redeliver from outbox where subject_id = $1`, [member.id]);
    expect(rows).toEqual([{ status: 'pending', redeliver: false }]);

    const history = await stack.client.workflow.getHandle(`registration-${member.id}`).fetchHistory();
    const failures = (history.events ?? []).flatMap((e) => (e.markerRecordedEventAttributes?.failure ? [e.markerRecordedEventAttributes.failure] : []));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((f) => f.encodedAttributes?.data?.length)).toBe(true);
    expect(JSON.stringify(history)).not.toContain('non-valido');
    // The worker's own report of the failed delivery is in the service's log, not on a console of its own.
    const reported = stack.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.activityType === 'sendRegistrationCode' && l.workflowId === `registration-${member.id}`);
    expect(reported.length).toBeGreaterThan(0);
    // ...which names the kind of failure, not the provider's message and the number it quotes.
    expect(reported.some((l) => (l.err as { name?: string } | undefined)?.name)).toBe(true);
    expect(stack.logLines.join('\n')).not.toContain('non-valido');
  });

  it('answers 503 registration_failed, and goes back to choosing a channel, when the contact can no longer take the channel at the last step', async () => {
    const { member, browser, mobile } = await started();
    expect((await browser.post('/api/registration/channel', { channel: 'sms', contactId: mobile.id })).status).toBe(200);
    const code = codeIn((await stack.captures!.waitFor(member.mobile)).text)!;
    // The registry turns the number into something else meanwhile.
    await stack.pool.query(`update contacts set kind = 'email', value = $2 where id = $1`, [mobile.id, `${member.codiceFiscale.toLowerCase()}@altro.example.it`]);
    const res = await browser.post('/api/registration/otp', { code });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'registration_failed', view: { state: 'choosingChannel' } });
    const { rows } = await stack.pool.query('select count(*)::int as n from secure_channels where subject_id = $1', [member.id]);
    expect(rows).toEqual([{ n: 0 }]);
  });
});
