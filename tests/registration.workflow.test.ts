import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codeHash } from '../activities/codes.js';
import { registrationInput } from '../activities/registration.js';
import { EncryptionCodec } from '../runtime/codec.js';
import { dataConverter } from '../runtime/temporal.js';
import type { ProcessView, StepResult } from '../workflows/host.js';
import { CodiceFiscale, ProcessState } from '../workflows/searchAttributes.js';
import { codeIn, firstAccessPasswordTo } from './support/registration.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { until } from './support/until.js';
import { provisionMember, type TestMember } from './support/subjects.js';

const OTP_TTL_MS = 1500;
const IDLE_MS = 2500;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ OTP_TTL: `${OTP_TTL_MS}ms`, REGISTRATION_IDLE: `${IDLE_MS}ms`, OTP_MAX_ATTEMPTS: '3' });
});
afterAll(async () => {
  await stack?.stop();
});

async function startRegistration(member: TestMember, idleMs = IDLE_MS): Promise<{ handle: WorkflowHandle; mobileId: string }> {
  const input = await registrationInput(stack.pool, member.id, { otpTtlMs: OTP_TTL_MS, otpMaxAttempts: 3, idleMs });
  const handle = await stack.client.workflow.start('registration', {
    workflowId: `registration-${member.id}`,
    taskQueue: stack.config.temporal.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return { handle, mobileId: input.contacts.find((c) => c.kind === 'mobile')!.id };
}

const step = (handle: WorkflowHandle, event: Record<string, unknown> & { type: string }) =>
  handle.executeUpdate<StepResult, [typeof event]>('step', { args: [event] });
const view = (handle: WorkflowHandle) => handle.query<ProcessView>('view');

async function sentCode(member: TestMember, nth = 1): Promise<string> {
  await stack.captures!.waitFor(member.mobile, () => stack.captures!.list(member.mobile).length >= nth);
  const messages = stack.captures!.list(member.mobile);
  return codeIn(messages[messages.length - nth]!.text)!;
}

describe('registration workflow on a real Temporal server', () => {
  it('starts once per subject: a second start finds the running one', async () => {
    const member = await provisionMember(stack);
    const first = await startRegistration(member);
    const second = await startRegistration(member);
    expect(second.handle.workflowId).toBe(first.handle.workflowId);
    const [a, b] = await Promise.all([first.handle.describe(), second.handle.describe()]);
    expect(b.runId).toBe(a.runId);
  });

  it('refuses a new code while the old one lives, expires it, then sends a new one', async () => {
    const member = await provisionMember(stack);
    const { handle, mobileId } = await startRegistration(member);
    await step(handle, { type: 'channel.choose', channel: 'sms', contactId: mobileId });
    const first = await sentCode(member);
    const early = await step(handle, { type: 'code.regenerate' });
    expect(early.outcome).toMatchObject({ code: 'otp_still_valid', retryAfter: expect.any(Number) });
    expect(early.outcome.retryAfter as number).toBeLessThanOrEqual(2);

    await until(() => view(handle), (v) => v.state === 'codeExpired', 'the code to expire');
    const late = await step(handle, { type: 'code.submit', codeHash: codeHash(stack.secrets, member.id, first) });
    expect(late.outcome).toEqual({ code: 'otp_expired' });

    const regenerated = await step(handle, { type: 'code.regenerate' });
    expect(regenerated.view.state).toBe('codeIssued.awaitingCode');
    const second = await sentCode(member, 2);
    const done = await step(handle, { type: 'code.submit', codeHash: codeHash(stack.secrets, member.id, second) });
    expect(done.outcome).toEqual({ code: 'registered' });
    expect(await handle.result()).toEqual({ state: 'registered' });
  });

  it('locks out after the last wrong code and then refuses every step', async () => {
    const member = await provisionMember(stack);
    const { handle, mobileId } = await startRegistration(member);
    await step(handle, { type: 'channel.choose', channel: 'sms', contactId: mobileId });
    const wrong = { type: 'code.submit', codeHash: codeHash(stack.secrets, member.id, 'x') };
    expect((await step(handle, wrong)).outcome).toEqual({ code: 'otp_invalid', attemptsLeft: 2 });
    expect((await step(handle, wrong)).outcome).toEqual({ code: 'otp_invalid', attemptsLeft: 1 });
    expect((await step(handle, wrong)).outcome).toEqual({ code: 'too_many_attempts' });
    expect(await handle.result()).toEqual({ state: 'lockedOut' });
    await expect(step(handle, wrong)).rejects.toThrow();
  });

  it('is abandoned after the idle limit without a step', async () => {
    const member = await provisionMember(stack);
    const { handle } = await startRegistration(member);
    expect(await handle.result()).toEqual({ state: 'abandoned' });
  });

  it('rejects a step the state does not accept in the validator, before it reaches history', async () => {
    const member = await provisionMember(stack);
    const { handle } = await startRegistration(member);
    const error = await step(handle, { type: 'code.submit', codeHash: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((error as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'StepNotAllowed' });
    const unknown = await step(handle, { type: 'anything.else' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(WorkflowUpdateFailedError);
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
    expect((await view(handle)).state).toBe('choosingChannel');
    await handle.terminate('fine del test');
  });

  it('keeps the ProcessState and CodiceFiscale search attributes current for operators', async () => {
    const member = await provisionMember(stack);
    const { handle, mobileId } = await startRegistration(member, 60_000);
    const state = async () => (await handle.describe()).typedSearchAttributes;
    await until(state, (sa) => sa.get(ProcessState) === 'choosingChannel', 'ProcessState=choosingChannel');
    expect((await state()).get(CodiceFiscale)).toBe(member.codiceFiscale);
    await step(handle, { type: 'channel.choose', channel: 'sms', contactId: mobileId });
    await until(state, (sa) => sa.get(ProcessState) === 'codeIssued.awaitingCode', 'ProcessState=codeIssued.awaitingCode');
    const found = await until(
      async () => {
        const ids: string[] = [];
        for await (const w of stack.client.workflow.list({ query: `CodiceFiscale = "${member.codiceFiscale}"` })) ids.push(w.workflowId);
        return ids;
      },
      (ids) => ids.length > 0,
      'the workflow to be found by codice fiscale',
    );
    expect(found).toEqual([handle.workflowId]);
    await handle.terminate('fine del test');
  });

  it('replays its own histories to the same commands: machine and host are deterministic', async () => {
    const member = await provisionMember(stack);
    const { handle, mobileId } = await startRegistration(member);
    await step(handle, { type: 'channel.choose', channel: 'sms', contactId: mobileId });
    await step(handle, { type: 'code.submit', codeHash: 'sbagliato' });
    await step(handle, { type: 'code.regenerate' });
    await step(handle, { type: 'code.submit', codeHash: codeHash(stack.secrets, member.id, await sentCode(member)) });
    await handle.result();
    const history = await handle.fetchHistory();
    // Throws DeterminismViolationError if replaying the history would issue other commands.
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') }, dataConverter: dataConverter(stack.secrets.keyring) },
      history,
      handle.workflowId,
    );
    expect(history.events?.length).toBeGreaterThan(10);
  });

  it('keeps no code and no password in its history, even decrypted', async () => {
    const member = await provisionMember(stack);
    const { handle, mobileId } = await startRegistration(member);
    await step(handle, { type: 'channel.choose', channel: 'sms', contactId: mobileId });
    const code = await sentCode(member);
    await step(handle, { type: 'code.submit', codeHash: codeHash(stack.secrets, member.id, code) });
    await handle.result();
    const password = await firstAccessPasswordTo(stack, member.mobile);

    const codec = new EncryptionCodec(stack.secrets.keyring);
    const decoded: string[] = [];
    const walk = async (node: unknown): Promise<void> => {
      if (!node || typeof node !== 'object') return;
      const maybe = node as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
      if (maybe.metadata && maybe.data instanceof Uint8Array) {
        const [plain] = await codec.decode([maybe as never]);
        decoded.push(Buffer.from(plain!.data ?? []).toString());
        return;
      }
      for (const child of Object.values(node)) await walk(child);
    };
    await walk(await handle.fetchHistory());
    const text = decoded.join('\n');
    expect(text).toContain(member.id);
    expect(text).toContain('codeHash');
    expect(text).not.toContain(code);
    expect(text).not.toContain(password);
    expect(text).not.toContain(member.mobile);
    const logged = stack.logLines.join('\n');
    expect(logged).not.toContain(code);
    expect(logged).not.toContain(password);
  });
});
