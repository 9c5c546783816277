import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../activities/outbox.js';
import type { Transports } from '../runtime/transports.js';
import { Browser } from './support/http.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { firstAccessPasswordTo, smsCodeSent } from './support/registration.js';
import { provisionMember, randomMobile } from './support/subjects.js';

// A database of this file's own: the relay delivers every undelivered message it finds, and
// the other files' messages must reach their own captures.
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { ownDatabase: 'varco_relay', schedules: true });
});
afterAll(async () => {
  await stack?.stop();
});

/** A number Twilio's API refuses: what a provider's outage looks like from varco. */
const REFUSED = '+39-non-valido';

const relay = (graceMs = 0) =>
  stack.client.workflow.execute('outboxRelay', { taskQueue: stack.config.temporal.taskQueue, workflowId: `relay-${randomUUID()}`, args: [{ graceMs }] });

async function status(key: string): Promise<string> {
  return (await stack.pool.query<{ status: string }>('select status from outbox where idempotency_key = $1', [key])).rows[0]!.status;
}

/** The provider takes messages again: here, the refused number is replaced by one it takes. */
const recover = (key: string, to: string) => stack.pool.query('update outbox set recipient = $2 where idempotency_key = $1', [key, to]);

describe('the outbox relay', () => {
  it('is scheduled every minute', async () => {
    const description = await stack.client.schedule.getHandle(`outbox-relay-${stack.config.temporal.taskQueue}`).describe();
    expect(description.spec.intervals).toMatchObject([{ every: 60_000 }]);
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'outboxRelay' });
  });

  it('delivers once what an attempt could not, leaves what the user was told failed, and waits out the grace period', async () => {
    const owed = { key: `relay-test/${randomUUID()}`, to: randomMobile() };
    const toldFailed = { key: `relay-test/${randomUUID()}`, to: randomMobile() };
    for (const m of [owed, toldFailed]) {
      await stack.outbox.enqueue(stack.pool, { key: m.key, subjectId: null, channel: 'sms', to: REFUSED, message: { subject: 'x', text: m.key }, redeliver: m === owed });
      await expect(stack.outbox.deliver(m.key)).rejects.toThrow();
      await recover(m.key, m.to);
    }

    expect(await relay(3_600_000)).toEqual({ delivered: 0, failed: 0 });
    expect(await status(owed.key)).toBe('pending');

    expect(await relay()).toEqual({ delivered: 1, failed: 0 });
    expect(await relay()).toEqual({ delivered: 0, failed: 0 });
    expect(stack.captures!.list(owed.to).map((m) => m.text)).toEqual([owed.key]);
    expect(await status(owed.key)).toBe('sent');
    expect(stack.captures!.list(toldFailed.to)).toEqual([]);
    expect(await status(toldFailed.key)).toBe('pending');
  });

  it('lets a registration answer registered when the password cannot go out yet, and delivers the password later', async () => {
    const member = await provisionMember(stack);
    const { browser, mobileId, code } = await smsCodeSent(stack, member);

    // The provider refuses from now on.
    await stack.pool.query('update contacts set value = $2 where id = $1', [mobileId, REFUSED]);
    const registered = await browser.post('/api/registration/otp', { code });
    expect(registered.status).toBe(200);
    expect(registered.body).toMatchObject({ outcome: 'registered', view: { state: 'registered' } });
    const { rows } = await stack.pool.query<{ idempotency_key: string; status: string }>(
      `select idempotency_key, status from outbox where subject_id = $1 and idempotency_key like '%/registered'`,
      [member.id],
    );
    expect(rows).toEqual([{ idempotency_key: expect.any(String), status: 'pending' }]);
    // The warning names the kind of failure, not the provider's message, which quotes the number.
    const warned = stack.logLines.map((l) => JSON.parse(l) as { msg?: string; err?: { name?: string } }).filter((l) => l.msg?.startsWith('password di primo accesso non consegnata'));
    expect(warned.length).toBeGreaterThan(0);
    expect(warned.every((l) => typeof l.err?.name === 'string' && l.err.name !== 'string')).toBe(true);
    expect(stack.logLines.join('\n')).not.toContain('non-valido');

    await recover(rows[0]!.idempotency_key, member.mobile);
    expect(await relay()).toMatchObject({ delivered: 1 });
    const password = await firstAccessPasswordTo(stack, member.mobile);
    const again = await new Browser(stack.url).post('/api/session', { username: member.codiceFiscale, password });
    expect(again.status).toBe(200);
    expect(again.body.requiredActions).toEqual(['change_password']);
  });

  it('takes over a claim that went stale, never a fresh one', async () => {
    const m = { key: `relay-test/${randomUUID()}`, to: randomMobile() };
    await stack.outbox.enqueue(stack.pool, { key: m.key, subjectId: null, channel: 'sms', to: m.to, message: { subject: 'x', text: m.key }, redeliver: false });
    await stack.pool.query(`update outbox set status = 'sending', claimed_at = now() where idempotency_key = $1`, [m.key]);
    await expect(stack.outbox.deliver(m.key)).rejects.toThrow(/già in consegna/);
    expect(stack.captures!.list(m.to)).toEqual([]);

    await stack.pool.query(`update outbox set claimed_at = now() - interval '2 minutes' where idempotency_key = $1`, [m.key]);
    await stack.outbox.deliver(m.key);
    expect(stack.captures!.list(m.to).map((x) => x.text)).toEqual([m.key]);
    expect(await status(m.key)).toBe('sent');
  });

  it('leaves alone a claim another attempt took over while this one was sending, whether its send failed or went through', async () => {
    for (const outcome of ['refused', 'accepted'] as const) {
      const key = `relay-test/${randomUUID()}`;
      const takeOver = () => stack.pool.query(`update outbox set claimed_at = now() + interval '1 second' where idempotency_key = $1 returning claimed_at::text as claim`, [key]);
      let newer = '';
      // The provider's side, as slow as a hung Twilio: the claim goes to another attempt meanwhile.
      const slowProvider: Transports = {
        sendEmail: () => Promise.reject(new Error('no e-mail here')),
        sendSms: async () => {
          newer = (await takeOver()).rows[0]!.claim;
          if (outcome === 'refused') throw new Error('provider refused');
          return 'SM-late';
        },
        close: () => undefined,
      };
      const outbox = new Outbox(stack.pool, stack.secrets.keyring, slowProvider);
      await outbox.enqueue(stack.pool, { key, subjectId: null, channel: 'sms', to: randomMobile(), message: { subject: 'x', text: key }, redeliver: false });
      const delivered = outbox.deliver(key);
      if (outcome === 'refused') await expect(delivered).rejects.toThrow('provider refused');
      else await delivered;
      const { rows } = await stack.pool.query<{ status: string; claim: string }>('select status, claimed_at::text as claim from outbox where idempotency_key = $1', [key]);
      expect(rows[0]).toEqual({ status: 'sending', claim: newer });
    }
  });
});
