import { allHandlersFinished, condition, defineUpdate, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { FloorActivities } from './registrationFloor.js';

/*
 * The registration bench's baseline and references, run by their own worker on their own task queue.
 * Exports are workflows only: the update is defined here and named by the client.
 */
const step = defineUpdate<unknown, [unknown]>('step');

/**
 * The baseline: a workflow with no logic at all. Its 'step' Update returns its argument; after
 * `updates` of them the workflow ends. It is what a registration would cost if the process,
 * the API and the side effects cost nothing.
 */
export async function bareWorkflow(updates: number): Promise<void> {
  let seen = 0;
  setHandler(step, (arg: unknown) => {
    seen++;
    return arg;
  });
  await condition(() => seen >= updates);
  await condition(allHandlersFinished);
}

const { noop } = proxyLocalActivities<{ noop(arg: unknown): Promise<unknown> }>({ startToCloseTimeout: '30s' });

/**
 * A reference, not the baseline: the Temporal shape of varco's registration with nothing
 * inside it. Started, then `updates` Updates that each wait for a local activity that does
 * nothing, as varco's channel and code steps each run one.
 */
export async function skeletonWorkflow(updates: number): Promise<void> {
  let seen = 0;
  setHandler(step, async (arg: unknown) => {
    const answer = await noop(arg);
    seen++;
    return answer;
  });
  await condition(() => seen >= updates);
  await condition(allHandlersFinished);
}

const floorEffects = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '30s' });

/**
 * The floor: the skeleton whose two Updates run the side effects no registration can do
 * without (registrationFloor.ts): send a code; check it, then make and send a first-access
 * password. What any implementation of the process pays on this machine, before its API,
 * sessions, audit and machine.
 */
export async function floorWorkflow(): Promise<void> {
  let seen = 0;
  setHandler(step, async (arg: unknown) => {
    const effect = seen === 0 ? floorEffects.floorSendCode : floorEffects.floorRegister;
    await effect(arg as Parameters<typeof effect>[0]);
    seen++;
    return arg;
  });
  await condition(() => seen >= 2);
  await condition(allHandlersFinished);
}
