import { getSimplePaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { registration, registrationMachine, type RegistrationInput } from '../machines/registration.js';
import { runMachine, settle, stateName } from './support/machineHarness.js';

const settings = { otpTtlMs: 300_000, otpMaxAttempts: 3, idleMs: 86_400_000 };
const input: RegistrationInput = {
  subjectId: 'subject-1',
  codiceFiscale: 'RSSMRA80A01H501U',
  contacts: [
    { id: 'email-1', kind: 'email', masked: 'ma****@example.it' },
    { id: 'pec-1', kind: 'pec', masked: 'ma****@geopec.it' },
    { id: 'mobile-1', kind: 'mobile', masked: '+39 *** **** 567' },
  ],
  settings,
};
const CODE = 'hash-of-the-right-code';

const start = (script = {}) => runMachine(registrationMachine, input, script, { sendCode: { codeHash: CODE } });

describe('registration machine, alone, with a simulated clock', () => {
  it('sends a code on the chosen channel and registers with the right one', async () => {
    const m = start();
    expect(m.state()).toBe('choosingChannel');
    expect(await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' })).toBeUndefined();
    expect(m.state()).toBe('codeIssued.awaitingCode');
    expect(m.calls).toEqual([{ actor: 'sendCode', input: { subjectId: 'subject-1', channel: 'sms', contactId: 'mobile-1', issue: 1, validForMs: 300_000 } }]);
    expect(await m.send({ type: 'code.submit', codeHash: CODE })).toEqual({ code: 'registered' });
    expect(m.state()).toBe('registered');
    expect(m.calls.at(-1)).toEqual({ actor: 'registerChannel', input: { subjectId: 'subject-1', channel: 'sms', contactId: 'mobile-1' } });
    expect(m.snapshot().status).toBe('done');
  });

  it('lets an e-mail code go to the e-mail or the PEC, never to the mobile; and refuses contacts not offered', async () => {
    const m = start();
    expect(await m.send({ type: 'channel.choose', channel: 'email', contactId: 'mobile-1' })).toEqual({ code: 'contact_not_offered' });
    expect(await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'email-1' })).toEqual({ code: 'contact_not_offered' });
    expect(await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'someone-elses' })).toEqual({ code: 'contact_not_offered' });
    expect(m.state()).toBe('choosingChannel');
    await m.send({ type: 'channel.choose', channel: 'email', contactId: 'pec-1' });
    expect(m.state()).toBe('codeIssued.awaitingCode');
  });

  it('counts wrong codes across new codes and locks out when none are left', async () => {
    const m = start();
    await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' });
    expect(await m.send({ type: 'code.submit', codeHash: 'wrong' })).toEqual({ code: 'otp_invalid', attemptsLeft: 2 });
    await m.advance(settings.otpTtlMs);
    await m.send({ type: 'code.regenerate' });
    expect(await m.send({ type: 'code.submit', codeHash: 'wrong' })).toEqual({ code: 'otp_invalid', attemptsLeft: 1 });
    expect(await m.send({ type: 'code.submit', codeHash: 'wrong' })).toEqual({ code: 'too_many_attempts' });
    expect(m.state()).toBe('lockedOut');
    expect(m.snapshot().context.attemptsLeft).toBe(0);
  });

  it('keeps a code 5 minutes from the request: no new code before, the old one refused after', async () => {
    const m = start();
    await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' });
    await m.advance(60_000);
    expect(await m.send({ type: 'code.regenerate' })).toEqual({ code: 'otp_still_valid', retryAfter: 240 });
    await m.advance(239_999);
    expect(await m.send({ type: 'code.regenerate' })).toEqual({ code: 'otp_still_valid', retryAfter: 1 });
    expect(m.state()).toBe('codeIssued.awaitingCode');
    await m.advance(1);
    expect(m.state()).toBe('codeExpired');
    expect(await m.send({ type: 'code.submit', codeHash: CODE })).toEqual({ code: 'otp_expired' });
    expect(registration.view(m.snapshot() as never).codeExpiresAt).toBeNull();
    await m.send({ type: 'code.regenerate' });
    expect(m.state()).toBe('codeIssued.awaitingCode');
    expect(m.calls.filter((c) => c.actor === 'sendCode').map((c) => (c.input as { issue: number }).issue)).toEqual([1, 2]);
  });

  it('holds the code life exactly for a step that arrives at its end, before the timer fired', async () => {
    const submit = start();
    await submit.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' });
    expect(await submit.send({ type: 'code.submit', codeHash: CODE, at: settings.otpTtlMs })).toEqual({ code: 'otp_expired' });
    expect(submit.state()).toBe('codeExpired');

    const regenerate = start();
    await regenerate.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' });
    expect(await regenerate.send({ type: 'code.regenerate', at: settings.otpTtlMs - 1 })).toEqual({ code: 'otp_still_valid', retryAfter: 1 });
    expect(await regenerate.send({ type: 'code.regenerate', at: settings.otpTtlMs })).toBeUndefined();
    expect(regenerate.state()).toBe('codeIssued.awaitingCode');
    expect(regenerate.calls.filter((c) => c.actor === 'sendCode').map((c) => (c.input as { issue: number }).issue)).toEqual([1, 2]);
    expect(registration.view(regenerate.snapshot() as never).codeExpiresAt).toBe(new Date(2 * settings.otpTtlMs).toISOString());
  });

  it('abandons after the idle limit without a step, while choosing or after expiry', async () => {
    const idle = start();
    await idle.advance(settings.idleMs - 1);
    expect(idle.state()).toBe('choosingChannel');
    await idle.advance(1);
    expect(idle.state()).toBe('abandoned');

    const expired = start();
    await expired.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' });
    await expired.advance(settings.otpTtlMs);
    expect(expired.state()).toBe('codeExpired');
    await expired.advance(settings.idleMs);
    expect(expired.state()).toBe('abandoned');
  });

  it('goes back to the choice, nothing registered, when registering fails', async () => {
    const m = start({ registerChannel: [{ fail: true }] });
    await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' });
    expect(await m.send({ type: 'code.submit', codeHash: CODE })).toEqual({ code: 'registration_failed' });
    expect(m.state()).toBe('choosingChannel');
  });

  it('goes back to the choice when the code cannot be delivered', async () => {
    const m = start({ sendCode: [{ fail: true }] });
    expect(await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' })).toEqual({ code: 'delivery_failed' });
    expect(m.state()).toBe('choosingChannel');
  });

  it('shows no code, hash or whole contact in its view', async () => {
    const m = start();
    await m.send({ type: 'channel.choose', channel: 'sms', contactId: 'mobile-1' });
    const view = registration.view(m.snapshot() as never);
    expect(JSON.stringify(view)).not.toContain(CODE);
    expect(view).toEqual({
      contacts: input.contacts.map(({ id, kind, masked }) => ({ id, kind, masked })),
      channel: 'sms',
      contactId: 'mobile-1',
      attemptsLeft: 3,
      codeExpiresAt: new Date(settings.otpTtlMs).toISOString(),
    });
  });
});

/** A step stamped after its code's life, before the timer said so: replayed as now + the code life. */
const LATE = Number.MAX_SAFE_INTEGER;

/** Every event the machine can meet, including its actors' answers and its timers firing. */
const graphEvents = [
  { type: 'channel.choose', channel: 'sms', contactId: 'mobile-1', at: 0 },
  { type: 'channel.choose', channel: 'email', contactId: 'mobile-1', at: 0 },
  { type: 'code.submit', codeHash: CODE, at: 0 },
  { type: 'code.submit', codeHash: 'wrong', at: 0 },
  { type: 'code.submit', codeHash: CODE, at: LATE },
  { type: 'code.regenerate', at: 0 },
  { type: 'code.regenerate', at: LATE },
  { type: 'xstate.done.actor.sendCode', output: { codeHash: CODE } },
  { type: 'xstate.error.actor.sendCode', error: new Error('undeliverable') },
  { type: 'xstate.done.actor.registerChannel' },
  { type: 'xstate.error.actor.registerChannel', error: new Error('database down') },
  { type: 'xstate.after.codeLifetime.registration.codeIssued' },
  { type: 'xstate.after.idleLimit.registration.choosingChannel' },
  { type: 'xstate.after.idleLimit.registration.codeExpired' },
] as const;

describe('registration machine, every path', () => {
  const paths = getSimplePaths(registrationMachine, {
    input,
    events: graphEvents as never,
    serializeState: (s) => JSON.stringify([s.value, s.context.attemptsLeft, s.context.codeHash !== undefined]),
    toState: (s) => s.status === 'done',
  });

  it('reaches every state of the machine, and each final state, by some path', () => {
    const finals = new Set(paths.map((p) => stateName(p.state.value)));
    expect(finals).toEqual(new Set(['registered', 'abandoned', 'lockedOut']));
    const visited = new Set(paths.flatMap((p) => p.steps.map((s) => stateName(s.state.value))));
    expect(visited).toEqual(
      new Set(['choosingChannel', 'codeIssued.sendingCode', 'codeIssued.awaitingCode', 'codeExpired', 'registering', 'registered', 'abandoned', 'lockedOut']),
    );
  });

  it(`replays each enumerated path on a live actor with a simulated clock and ends where the graph says`, async () => {
    expect(paths.length).toBeGreaterThanOrEqual(10);
    for (const path of paths) {
      const answers = (actor: string) =>
        path.steps
          .filter((s) => (s.event.type as string).endsWith(`.actor.${actor}`))
          .map((s) => ((s.event.type as string).startsWith('xstate.error') ? { fail: true } : { output: actor === 'sendCode' ? { codeHash: CODE } : undefined }));
      const script = { sendCode: answers('sendCode'), registerChannel: answers('registerChannel') };
      const m = start(script);
      for (const { event } of path.steps) {
        const type: string = event.type;
        if (type === 'xstate.init' || type.startsWith('xstate.done.actor') || type.startsWith('xstate.error.actor')) {
          await settle(); // the scripted actor answers by itself
        } else if (type.startsWith('xstate.after.codeLifetime')) {
          await m.advance(settings.otpTtlMs);
        } else if (type.startsWith('xstate.after.idleLimit')) {
          await m.advance(settings.idleMs);
        } else {
          // graph events are stamped 0 or LATE; on the live actor, the clock's time (or past the code's life)
          const { at, ...step } = event as { at: number; type: string };
          await m.send({ ...step, at: at === LATE ? m.clock.now() + settings.otpTtlMs : m.clock.now() });
        }
      }
      expect(m.state(), path.steps.map((s) => s.event.type).join(' → ')).toBe(stateName(path.state.value));
    }
  });
});
