import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodiceFiscale, ProcessState } from '../workflows/searchAttributes.js';
import { Browser } from './support/http.js';
import { codeIn, firstAccessPasswordTo, otherCode } from './support/registration.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember, type TestMember } from './support/subjects.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});


async function login(member: TestMember, password = member.password) {
  const browser = new Browser(stack.url);
  const res = await browser.post('/api/session', { username: member.codiceFiscale, password });
  return { browser, res };
}

async function registerOver(channel: 'sms' | 'email') {
  const member = await provisionMember(stack);
  const recipient = channel === 'sms' ? member.mobile : member.email;
  const { browser, res } = await login(member);
  expect(res.status).toBe(200);
  expect(res.body.requiredActions).toEqual(['change_password', 'register_secure_channel']);

  const started = await browser.post('/api/registration');
  expect(started.status).toBe(201);
  expect(started.body.view).toMatchObject({ state: 'choosingChannel', nextSteps: ['channel.choose'] });
  const contact = started.body.view.contacts.find((c: { kind: string }) => c.kind === (channel === 'sms' ? 'mobile' : 'email'));
  expect(JSON.stringify(started.body)).not.toContain(recipient);

  const chosen = await browser.post('/api/registration/channel', { channel, contactId: contact.id });
  expect(chosen.status).toBe(200);
  expect(chosen.body.view.state).toBe('codeIssued.awaitingCode');
  const codeMessage = await stack.captures!.waitFor(recipient, (m) => codeIn(m.text) !== undefined);
  const code = codeIn(codeMessage.text)!;

  const wrong = await browser.post('/api/registration/otp', { code: otherCode(code) });
  expect(wrong.status).toBe(422);
  expect(wrong.body).toMatchObject({ error: 'otp_invalid', attemptsLeft: 4 });

  const right = await browser.post('/api/registration/otp', { code });
  expect(right.status).toBe(200);
  expect(right.body).toMatchObject({ outcome: 'registered', view: { state: 'registered', status: 'done' } });

  // The registration ended every session, this one included.
  expect((await browser.get('/api/me')).status).toBe(401);

  const firstAccess = await firstAccessPasswordTo(stack, recipient);
  expect((await login(member)).res.status).toBe(401);
  const again = await login(member, firstAccess);
  expect(again.res.status).toBe(200);
  expect(again.res.body.requiredActions).toEqual(['change_password']);
  expect((await again.browser.post('/api/me/pin')).status).toBe(403);

  const changed = await again.browser.post('/api/me/password', { currentPassword: firstAccess, newPassword: 'Nuova#Password9', confirmPassword: 'Nuova#Password9' });
  expect(changed.status).toBe(204);
  const me = await again.browser.get('/api/me');
  expect(me.body.requiredActions).toEqual([]);
  expect(me.body.secureChannel).toMatchObject({ channel, contactId: contact.id });
  expect(stack.captures!.list(recipient).filter((m) => codeIn(m.text))).toHaveLength(1);

  const { rows } = await stack.pool.query(`select event, details from audit_events where subject_id = $1 order by id`, [member.id]);
  const events = rows.map((r: { event: string; details: { outcome?: string } }) => (r.details.outcome ? `${r.event}:${r.details.outcome}` : r.event));
  expect(events).toEqual(
    expect.arrayContaining([
      'registration_started',
      'registration_code_sent',
      'registration_step:accepted',
      'registration_step:otp_invalid',
      'registration_step:registered',
      'secure_channel_registered',
      'first_access_password_issued',
      'sessions_ended',
      'password_changed',
    ]),
  );
  expect(JSON.stringify(rows)).not.toContain(code);
  expect(JSON.stringify(rows)).not.toContain(firstAccess);
  return { member, code, firstAccess };
}

describe('secure-channel registration over HTTP, as a new user would do it', () => {
  it('registers SMS: wrong code, right code, first-access password by SMS, forced change, fully in', async () => {
    await registerOver('sms');
  });

  it('registers e-mail the same way', async () => {
    const { member, code, firstAccess } = await registerOver('email');
    const leaked = stack.logLines.join('\n');
    for (const secret of [code, firstAccess, member.password, 'Nuova#Password9']) expect(leaked).not.toContain(secret);
  });

  it('starts the workflow with its search attributes: operators find it by codice fiscale and state from its first event', async () => {
    const member = await provisionMember(stack);
    const { browser } = await login(member);
    const started = await browser.post('/api/registration');
    expect(started.status).toBe(201);
    const handle = stack.client.workflow.getHandle(`registration-${member.id}`);
    const [first] = (await handle.fetchHistory()).events ?? [];
    expect(first?.eventType).toBe(proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    expect(Object.keys(first?.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields ?? {}).sort()).toEqual(['CodiceFiscale', 'ProcessState']);
    const attributes = (await handle.describe()).typedSearchAttributes;
    expect(attributes.get(CodiceFiscale)).toBe(member.codiceFiscale);
    expect(attributes.get(ProcessState)).toBe('choosingChannel');
    await handle.terminate('fine del test');
  });
});
