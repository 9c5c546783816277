import path from 'node:path';
import { Client, Connection, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProcessView, StepResult } from '../workflows/host.js';

const taskQueue = `host-test-${Date.now()}`;
let worker: Worker;
let running: Promise<void>;
let client: Client;
const slowCalls: number[] = [];

beforeAll(async () => {
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(import.meta.dirname, 'support', 'hostWorkflows.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: bundle,
    activities: {
      async addSlowly({ total }: { total: number }) {
        slowCalls.push(total);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return total;
      },
      async fail() {
        throw ApplicationFailure.nonRetryable('guasto voluto', 'Broken');
      },
    },
  });
  running = worker.run();
  client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await client?.connection.close();
});

const start = (id: string) => client.workflow.start('tallyProcess', { taskQueue, workflowId: `${id}-${Date.now()}`, args: [{ owner: 'x' }] });
const step = (handle: Awaited<ReturnType<typeof start>>, event: { type: string; [k: string]: unknown }) =>
  handle.executeUpdate<StepResult, [typeof event]>('step', { args: [event] });

describe('the generic host, with a machine of its own', () => {
  it('answers a step once its activity is done, with the emitted outcome; "accepted" when the machine emits none', async () => {
    const handle = await start('outcome');
    const added = await step(handle, { type: 'add', amount: 5 });
    expect(added.outcome).toEqual({ code: 'added', total: 5 });
    expect(added.view).toMatchObject({ state: 'open', status: 'active', nextSteps: ['add', 'note', 'finish', 'breakDown'], total: 5 });
    expect((await step(handle, { type: 'note' })).outcome).toEqual({ code: 'accepted' });
    await handle.terminate();
  });

  it('runs concurrent steps one at a time: each is answered with its own outcome, or refused while the machine is busy', async () => {
    const handle = await start('concurrent');
    const amounts = [1, 2, 4];
    const callsBefore = slowCalls.length;
    const settled = await Promise.allSettled(amounts.map((amount) => step(handle, { type: 'add', amount })));
    const accepted = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [{ amount: amounts[i]!, outcome: r.value.outcome }] : []));
    for (const r of settled) {
      if (r.status === 'rejected') expect((r.reason as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'StepNotAllowed' });
    }
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.every((a) => a.outcome.code === 'added')).toBe(true);
    // Serialized: every answer saw a different running total, and none was lost or counted twice.
    expect(new Set(accepted.map((a) => a.outcome.total)).size).toBe(accepted.length);
    const sum = accepted.reduce((total, a) => total + a.amount, 0);
    expect((await handle.query<ProcessView>('view')).total).toBe(sum);
    expect(Math.max(...accepted.map((a) => a.outcome.total as number))).toBe(sum);
    // each accepted step ran its activity once, a refused one never
    expect(slowCalls.length - callsBefore).toBe(accepted.length);
    await handle.terminate();
  });

  it('refuses, in the validator, unknown events and events that only arrive as signals', async () => {
    const handle = await start('refused');
    await expect(step(handle, { type: 'close' })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(step(handle, { type: 'nonsense' })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    expect(await handle.query<ProcessView>('view')).toMatchObject({ state: 'open', total: 0 });
    await handle.terminate();
  });

  it('turns signals into machine events, ignores the ones the machine does not list as signals, and ends at a final state', async () => {
    const handle = await start('signal');
    await handle.signal('event', { type: 'add', amount: 100 });
    expect((await handle.query<ProcessView>('view')).total).toBe(0);
    await handle.signal('event', { type: 'close' });
    expect(await handle.result()).toEqual({ state: 'closed' });
  });

  it('checks a queued step again when its turn comes: of two steps that end the process, sent together, one is refused', async () => {
    // Sent before the first workflow task, both arrive together and both pass the validator. On
    // a loaded machine the second may come only after the process ended: then try again.
    let handle: Awaited<ReturnType<typeof start>>;
    let settled: PromiseSettledResult<StepResult>[];
    for (let tries = 1; ; tries++) {
      handle = await start('queued');
      settled = await Promise.allSettled([step(handle, { type: 'finish' }), step(handle, { type: 'finish' })]);
      const refusedByTheProcess = (reason: unknown) => reason instanceof WorkflowUpdateFailedError && (reason.cause as { type?: string })?.type === 'StepNotAllowed';
      const late = settled.some((r) => r.status === 'rejected' && !refusedByTheProcess(r.reason));
      if (!late) break;
      if (tries === 5) throw new Error('the two steps never reached the workflow together');
    }
    expect(settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<StepResult>).value.outcome)).toEqual([{ code: 'finished', total: 0 }]);
    const refused = settled.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((refused.reason as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'StepNotAllowed' });
    expect(await handle.result()).toEqual({ state: 'closed' });
  });

  it('fails the workflow, where operators see it, when an actor fails and the machine handles no error', async () => {
    const handle = await start('broken');
    await step(handle, { type: 'breakDown' }).catch(() => undefined);
    const failure = await handle.result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'MachineFailed' });
  });
});
