import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../activities/credentials.js';
import { Outbox } from '../activities/outbox.js';
import { registrationActivities } from '../activities/registration.js';
import { createTransports, type Transports } from '../runtime/transports.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember, type TestMember } from './support/subjects.js';

let stack: TestStack;
let transports: Transports;
let activities: ReturnType<typeof registrationActivities>;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  const servers = stack.captureServers!;
  transports = createTransports(stack.config, {
    smtpUrl: servers.smtpUrl,
    twilio: { accountSid: servers.twilioAccountSid, authToken: servers.twilioAuthToken, from: 'CassaGeom', baseUrl: servers.twilioBaseUrl },
  });
  activities = registrationActivities({
    config: stack.config,
    pool: stack.pool,
    secrets: stack.secrets,
    outbox: new Outbox(stack.pool, stack.secrets.keyring, transports),
    hasher: new PasswordHasher(stack.config.argon2),
  });
});
afterAll(async () => {
  transports?.close();
  await stack?.stop();
});

/** Every attempt of one activity in one workflow run: what a retry looks like from inside. */
const run = () => {
  const workflowExecution = { workflowId: `registration-${randomUUID()}`, runId: randomUUID() };
  return () => new MockActivityEnvironment({ workflowExecution } as never);
};

async function contactOf(member: TestMember, kind: 'mobile' | 'email'): Promise<string> {
  const { rows } = await stack.pool.query<{ id: string }>('select id from contacts where subject_id = $1 and kind = $2', [member.id, kind]);
  return rows[0]!.id;
}

async function account(member: TestMember) {
  const { rows } = await stack.pool.query<{ hash: string; must_change: boolean; history: number; channels: number; sessions: number; audits: number }>(
    `select c.hash, c.must_change,
            (select count(*)::int from password_history h where h.subject_id = c.subject_id) as history,
            (select count(*)::int from secure_channels sc where sc.subject_id = c.subject_id) as channels,
            (select count(*)::int from sessions s where s.subject_id = c.subject_id) as sessions,
            (select count(*)::int from audit_events a where a.subject_id = c.subject_id
               and a.event in ('registration_code_sent', 'secure_channel_registered', 'first_access_password_issued', 'sessions_ended')) as audits
     from credentials c where c.subject_id = $1`,
    [member.id],
  );
  return rows[0]!;
}

const settled = <T>(attempts: Promise<T>[]) => Promise.allSettled(attempts);

describe('registration activities, retried and raced as Temporal may run them', () => {
  it('sends a code once per issue: a retry returns the same hash and sends nothing new', async () => {
    const member = await provisionMember(stack);
    const contactId = await contactOf(member, 'mobile');
    const attempt = run();
    const input = { subjectId: member.id, channel: 'sms' as const, contactId, issue: 1 };
    const first: { codeHash: string } = await attempt().run(activities.sendRegistrationCode, input);
    const again = await attempt().run(activities.sendRegistrationCode, input);
    expect(again).toEqual(first);
    const raced = await settled([1, 2, 3].map(() => attempt().run(activities.sendRegistrationCode, input)));
    for (const r of raced) if (r.status === 'fulfilled') expect(r.value).toEqual(first);
    expect(stack.captures!.list(member.mobile)).toHaveLength(1);
    expect((await account(member)).audits).toBe(1);

    // The next issue of the same run is a new code.
    const second: { codeHash: string } = await attempt().run(activities.sendRegistrationCode, { ...input, issue: 2 });
    expect(second.codeHash).not.toBe(first.codeHash);
    await stack.captures!.waitFor(member.mobile, () => stack.captures!.list(member.mobile).length === 2);
  });

  it('refuses, without writing or sending anything, a contact of another subject or one the channel cannot reach', async () => {
    const member = await provisionMember(stack);
    const other = await provisionMember(stack);
    const cases = [
      { channel: 'sms' as const, contactId: await contactOf(other, 'mobile') },
      { channel: 'sms' as const, contactId: await contactOf(member, 'email') },
      { channel: 'email' as const, contactId: await contactOf(member, 'mobile') },
    ];
    for (const c of cases) {
      const attempt = run();
      for (const activity of [
        () => attempt().run(activities.sendRegistrationCode, { subjectId: member.id, ...c, issue: 1 }),
        () => attempt().run(activities.registerSecureChannel, { subjectId: member.id, ...c }),
      ]) {
        const failure = await activity().catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(ApplicationFailure);
        expect((failure as ApplicationFailure).type).toBe('ContactNotUsable');
        expect((failure as ApplicationFailure).nonRetryable).toBe(true);
      }
    }
    const before = await account(member);
    expect(before).toMatchObject({ must_change: true, history: 0, channels: 0, audits: 0 });
    const { rows } = await stack.pool.query('select 1 from one_time_codes where subject_id = $1 union all select 1 from outbox where subject_id = $1', [member.id]);
    expect(rows).toHaveLength(0);
    expect(stack.captures!.list(member.mobile)).toHaveLength(0);
    expect(stack.captures!.list(member.email)).toHaveLength(0);
  });

  it('registers the channel once: retries and racing attempts issue one password, retire one hash and end the sessions once', async () => {
    const member = await provisionMember(stack);
    const contactId = await contactOf(member, 'email');
    await stack.pool.query(`insert into sessions (id, subject_id, ip) values ($1, $2, '127.0.0.1'), ($3, $2, '127.0.0.1')`, [randomUUID(), member.id, randomUUID()]);
    const before = await account(member);
    const attempt = run();
    const input = { subjectId: member.id, channel: 'email' as const, contactId };
    const raced = await settled([1, 2, 3].map(() => attempt().run(activities.registerSecureChannel, input)));
    expect(raced.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    await attempt().run(activities.registerSecureChannel, input);
    const after = await account(member);
    expect(after.hash).not.toBe(before.hash);
    expect(after).toMatchObject({ must_change: true, history: before.history + 1, channels: 1, sessions: 0, audits: 3 });
    const { rows } = await stack.pool.query<{ details: { sessions: number } }>(
      `select details from audit_events where subject_id = $1 and event = 'sessions_ended'`,
      [member.id],
    );
    expect(rows.map((r) => r.details.sessions)).toEqual([2]);
    await stack.captures!.waitFor(member.email);
    const mails = stack.captures!.list(member.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.text).toMatch(/password/i);
    // The message holds the password whose hash was stored, and nothing else was stored.
    const password = /password[^:]*:\s*(\S+)/i.exec(mails[0]!.text)?.[1];
    expect(password).toBeTruthy();
    expect(await new PasswordHasher(stack.config.argon2).verify(after.hash, password!)).toBe(true);
  });
});
