import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../activities/credentials.js';
import type { Outbox } from '../activities/outbox.js';
import { registrationActivities } from '../activities/registration.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember, type TestMember } from './support/subjects.js';

let stack: TestStack;
let activities: ReturnType<typeof registrationActivities>;
let outbox: Outbox;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  outbox = stack.outbox;
  activities = registrationActivities({
    config: stack.config,
    pool: stack.pool,
    secrets: stack.secrets,
    outbox,
    hasher: new PasswordHasher(stack.config.argon2),
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Every attempt of one activity in one workflow run: what a retry looks like from inside. */
const run = () => {
  const workflowExecution = { workflowId: `registration-${randomUUID()}`, runId: randomUUID() };
  const attempt = () => new MockActivityEnvironment({ workflowExecution } as never);
  return Object.assign(attempt, { key: (suffix: string) => `${workflowExecution.workflowId}/${workflowExecution.runId}/${suffix}` });
};

/**
 * Plays another attempt of the same activity that got there first: its rows are written in a
 * transaction left open until the attempt under test is seen waiting on them, then committed.
 */
async function racedBy<T>(write: (client: pg.PoolClient) => Promise<void>, underTest: () => Promise<T>): Promise<PromiseSettledResult<T>> {
  const client = await stack.pool.connect();
  try {
    await client.query('begin');
    await write(client);
    const writer = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const result = Promise.allSettled([underTest()]);
    const deadline = Date.now() + 10_000;
    // Waiting on this writer itself: another test file's locks on the shared database do not count.
    const waiting = async () =>
      (await stack.pool.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [writer])).rows[0]!.n > 0;
    while (!(await waiting())) {
      if (Date.now() > deadline) throw new Error('the attempt under test never waited for the other one');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await client.query('commit');
    return (await result)[0]!;
  } finally {
    client.release();
  }
}

async function contactOf(member: TestMember, kind: 'mobile' | 'email'): Promise<string> {
  const { rows } = await stack.pool.query<{ id: string }>('select id from contacts where subject_id = $1 and kind = $2', [member.id, kind]);
  return rows[0]!.id;
}

/** Contacts start uncertified here, so that registering visibly certifies one. */
async function uncertified(member: TestMember): Promise<TestMember> {
  await stack.pool.query('update contacts set certified = false, certified_at = null where subject_id = $1', [member.id]);
  return member;
}

async function account(member: TestMember) {
  const { rows } = await stack.pool.query<{
    hash: string; must_change: boolean; history: number; retired: string | null; certified: number; channels: number; sessions: number; audits: number;
  }>(
    `select c.hash, c.must_change,
            (select count(*)::int from password_history h where h.subject_id = c.subject_id) as history,
            (select h.hash from password_history h where h.subject_id = c.subject_id order by h.id desc limit 1) as retired,
            (select count(*)::int from contacts k where k.subject_id = c.subject_id and k.certified) as certified,
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
  it('sends a code once per issue: racing first attempts and a later retry all answer the same hash, one message goes out', async () => {
    const member = await provisionMember(stack);
    const contactId = await contactOf(member, 'mobile');
    const attempt = run();
    const input = { subjectId: member.id, channel: 'sms' as const, contactId, issue: 1, validForMs: 120_000 };
    const raced = await settled([1, 2, 3].map(() => attempt().run(activities.sendRegistrationCode, input)));
    const hashes = new Set(raced.flatMap((r) => (r.status === 'fulfilled' ? [(r.value as { codeHash: string }).codeHash] : [])));
    expect(hashes.size).toBe(1);
    for (const r of raced) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/già in consegna/);
    const retried: { codeHash: string } = await attempt().run(activities.sendRegistrationCode, input);
    expect(hashes.has(retried.codeHash)).toBe(true);
    expect(stack.captures!.list(member.mobile)).toHaveLength(1);
    // The message states the process's own code life, whatever this worker's configuration says.
    expect(stack.captures!.list(member.mobile)[0]!.text).toContain('È valido 2 minuti.');
    expect((await account(member)).audits).toBe(1);

    // The next issue of the same run is a new code.
    const second: { codeHash: string } = await attempt().run(activities.sendRegistrationCode, { ...input, issue: 2 });
    expect(second.codeHash).not.toBe(retried.codeHash);
    await stack.captures!.waitFor(member.mobile, () => stack.captures!.list(member.mobile).length === 2);
  });

  it('refuses, without writing or sending anything, a contact of another subject or one the channel cannot reach', async () => {
    const member = await uncertified(await provisionMember(stack));
    const other = await provisionMember(stack);
    const cases = [
      { channel: 'sms' as const, contactId: await contactOf(other, 'mobile') },
      { channel: 'sms' as const, contactId: await contactOf(member, 'email') },
      { channel: 'email' as const, contactId: await contactOf(member, 'mobile') },
    ];
    for (const c of cases) {
      const attempt = run();
      for (const activity of [
        () => attempt().run(activities.sendRegistrationCode, { subjectId: member.id, ...c, issue: 1, validForMs: 300_000 }),
        () => attempt().run(activities.registerSecureChannel, { subjectId: member.id, ...c }),
      ]) {
        const failure = await activity().catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(ApplicationFailure);
        expect((failure as ApplicationFailure).type).toBe('ContactNotUsable');
        expect((failure as ApplicationFailure).nonRetryable).toBe(true);
      }
    }
    const before = await account(member);
    expect(before).toMatchObject({ must_change: true, history: 0, certified: 0, channels: 0, audits: 0 });
    const { rows } = await stack.pool.query('select 1 from one_time_codes where subject_id = $1 union all select 1 from outbox where subject_id = $1', [member.id]);
    expect(rows).toHaveLength(0);
    expect(stack.captures!.list(member.mobile)).toHaveLength(0);
    expect(stack.captures!.list(member.email)).toHaveLength(0);
  });

  it('registers the channel once: retries and racing attempts issue one password, retire one hash and end the sessions once', async () => {
    const member = await uncertified(await provisionMember(stack));
    const contactId = await contactOf(member, 'email');
    await stack.pool.query(`insert into sessions (id, subject_id, ip) values ($1, $2, '127.0.0.1'), ($3, $2, '127.0.0.1')`, [randomUUID(), member.id, randomUUID()]);
    const before = await account(member);
    const attempt = run();
    const input = { subjectId: member.id, channel: 'email' as const, contactId };
    const raced = await settled([1, 2, 3].map(() => attempt().run(activities.registerSecureChannel, input)));
    expect(raced.some((r) => r.status === 'fulfilled')).toBe(true);
    // A loser may only find the winner's message still being sent: its retry delivers nothing new.
    for (const r of raced) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/già in consegna/);
    await attempt().run(activities.registerSecureChannel, input);
    const after = await account(member);
    expect(after.hash).not.toBe(before.hash);
    // The history keeps the password that was replaced, once; only the chosen contact is certified.
    expect(after).toMatchObject({ must_change: true, history: before.history + 1, retired: before.hash, certified: 1, channels: 1, sessions: 0, audits: 3 });
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

  it('answers with the code another attempt issued while it ran, and sends only that one', async () => {
    const member = await provisionMember(stack);
    const contactId = await contactOf(member, 'mobile');
    const attempt = run();
    const key = attempt.key('code/1');
    const outcome = await racedBy(
      async (client) => {
        await client.query(`insert into one_time_codes (key, subject_id, code_hash) values ($1, $2, 'hash-of-the-other-attempt')`, [key, member.id]);
        await outbox.enqueue(client, { key, subjectId: member.id, channel: 'sms', to: member.mobile, message: { subject: 'OTP', text: 'codice 111111' } });
      },
      () => attempt().run(activities.sendRegistrationCode, { subjectId: member.id, channel: 'sms' as const, contactId, issue: 1, validForMs: 300_000 }),
    );
    expect(outcome).toEqual({ status: 'fulfilled', value: { codeHash: 'hash-of-the-other-attempt' } });
    expect(stack.captures!.list(member.mobile).map((m) => m.text)).toEqual([expect.stringContaining('111111')]);
  });

  it('delivers what an earlier attempt registered, even when the contact can no longer take the channel', async () => {
    const member = await provisionMember(stack);
    const attempt = run();
    const before = await account(member);
    await outbox.enqueue(stack.pool, { key: attempt.key('registered'), subjectId: member.id, channel: 'email', to: member.email, message: { subject: 'Password', text: 'registrato prima' } });
    // This attempt names a contact that is not there: only the earlier attempt's message makes it a success.
    await attempt().run(activities.registerSecureChannel, { subjectId: member.id, channel: 'sms' as const, contactId: randomUUID() });
    expect((await account(member)).hash).toBe(before.hash);
    await stack.captures!.waitFor(member.email, (m) => m.text.includes('registrato prima'));
  });
});
