import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember, randomMobile, type TestMember } from './support/subjects.js';

/**
 * The daily password-expiry reminders (issue 4), run by hand: who gets one, and that a refused
 * one holds nothing up. A database of this file's own: a run reminds every password it finds,
 * and the relay delivers every message it finds, so other files' subjects must not be here.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { ownDatabase: 'varco_expiry' });
});
afterAll(async () => {
  await stack?.stop();
});

/** A number Twilio's API refuses. */
const REFUSED = '+39-non-valido';

const run = <T>(workflowType: string, args: unknown[] = []) =>
  stack.client.workflow.execute(workflowType, { taskQueue: stack.config.temporal.taskQueue, workflowId: `${workflowType}-${randomUUID()}`, args }) as Promise<T>;
const reminders = () => run<{ notified: number }>('passwordExpiryReminders');
const relay = () => run<{ delivered: number; failed: number }>('outboxRelay', [{ graceMs: 0 }]);

/** The member's password, changed daysAgo days ago, expires within the default 7-day notice. */
const ageing = (member: TestMember, daysAgo: number) =>
  stack.pool.query(`update credentials set must_change = false, changed_at = now() - make_interval(days => $2) where subject_id = $1`, [member.id, daysAgo]);

const registerChannel = (member: TestMember, channel: 'email' | 'sms', kind: 'email' | 'pec' | 'mobile') =>
  stack.pool.query(`insert into secure_channels (subject_id, channel, contact_id) select subject_id, $2, id from contacts where subject_id = $1 and kind = $3`, [member.id, channel, kind]);

const isReminder = (m: { text: string }) => m.text.includes('La password dell\'Area Riservata scade il');
const remindersTo = (to: string) => stack.captures!.list(to).filter(isReminder);
const notices = async (member: TestMember) => (await stack.pool.query('select 1 from password_expiry_notices where subject_id = $1', [member.id])).rowCount;

describe('password-expiry reminders', () => {
  it('a reminder the provider refuses holds up neither the next subject nor the run; the relay delivers it later, once', async () => {
    // The refused one comes first: its password is the older.
    const refused = await provisionMember(stack, { contacts: [{ kind: 'mobile', value: randomMobile(), certified: true }] });
    await registerChannel(refused, 'sms', 'mobile');
    await stack.pool.query(`update contacts set value = $2 where subject_id = $1`, [refused.id, REFUSED]);
    await ageing(refused, 86);
    const reached = await provisionMember(stack);
    await ageing(reached, 85);

    expect(await reminders()).toEqual({ notified: 2 });
    expect(remindersTo(reached.email)).toHaveLength(1);
    const { rows } = await stack.pool.query<{ idempotency_key: string; status: string; redeliver: boolean }>(
      'select idempotency_key, status, redeliver from outbox where subject_id = $1',
      [refused.id],
    );
    expect(rows).toEqual([{ idempotency_key: expect.stringMatching(/^password-expiry\//), status: 'pending', redeliver: true }]);
    const warned = stack.logLines.map((l) => JSON.parse(l) as { msg?: string; err?: { name?: string } }).filter((l) => l.msg?.startsWith('promemoria di scadenza password non consegnato'));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.err?.name).toEqual(expect.any(String));
    expect(stack.logLines.join('\n')).not.toContain('non-valido');

    // The next run finds both reminded.
    expect(await reminders()).toEqual({ notified: 0 });

    // The provider takes it again (here, the refused number is replaced by one it takes).
    const mobile = randomMobile();
    await stack.pool.query('update outbox set recipient = $2 where idempotency_key = $1', [rows[0]!.idempotency_key, mobile]);
    expect(await relay()).toEqual({ delivered: 1, failed: 0 });
    expect(await relay()).toEqual({ delivered: 0, failed: 0 });
    expect(remindersTo(mobile)).toHaveLength(1);
    expect(remindersTo(reached.email)).toHaveLength(1);
    expect(await notices(refused)).toBe(1);
  });

  it('goes to a certified e-mail or PEC address (the secure channel\'s first), else to an SMS secure channel, never to an uncertified contact', async () => {
    const uncertifiedEmail = (name: string) => ({ kind: 'email', value: `${name}@example.it`, certified: false });
    const onlyUncertified = await provisionMember(stack, { contacts: [uncertifiedEmail('solo')] });
    const mobileWithoutChannel = await provisionMember(stack, { contacts: [uncertifiedEmail('senza-canale'), { kind: 'mobile', value: randomMobile(), certified: true }] });
    const mobileChannel = await provisionMember(stack, { contacts: [uncertifiedEmail('canale-sms'), { kind: 'mobile', value: randomMobile(), certified: true }] });
    await registerChannel(mobileChannel, 'sms', 'mobile');
    const pecChannel = await provisionMember(stack);
    await registerChannel(pecChannel, 'email', 'pec');
    for (const member of [onlyUncertified, mobileWithoutChannel, mobileChannel, pecChannel]) await ageing(member, 85);
    const mobileOf = async (member: TestMember) =>
      (await stack.pool.query<{ value: string }>(`select value from contacts where subject_id = $1 and kind = 'mobile'`, [member.id])).rows[0]!.value;

    expect(await reminders()).toEqual({ notified: 2 });

    expect(remindersTo(await mobileOf(mobileChannel))).toHaveLength(1);
    expect(remindersTo('canale-sms@example.it')).toHaveLength(0);
    expect(remindersTo(pecChannel.pec)).toHaveLength(1);
    expect(remindersTo(pecChannel.email)).toHaveLength(0);
    expect(remindersTo('solo@example.it')).toHaveLength(0);
    expect(remindersTo('senza-canale@example.it')).toHaveLength(0);
    expect(remindersTo(await mobileOf(mobileWithoutChannel))).toHaveLength(0);
    expect(await notices(onlyUncertified)).toBe(0);
    expect(await notices(mobileWithoutChannel)).toBe(0);
  });
});
