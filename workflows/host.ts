import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { createActor, fromPromise, type AnyMachineSnapshot, type AnyStateMachine, type EventFromLogic, type InputFrom } from 'xstate';
import { accepts as takes, publicView, stateName, type Outcome, type ProcessDefinition, type ProcessView, type StepEvent } from '../machines/process.js';
import { CodiceFiscale, ProcessState } from './searchAttributes.js';

export type { ProcessView, StepEvent };

export interface StepResult {
  outcome: Outcome;
  view: ProcessView;
}

/** A user's step that needs an answer ("wrong code, 3 attempts left"). */
export const stepUpdate = defineUpdate<StepResult, [StepEvent]>('step');
/** Something that happened elsewhere: a reviewer's decision, a contact certified. */
export const eventSignal = defineSignal<[StepEvent]>('event');
/** The public state, for the web client and for operators. */
export const viewQuery = defineQuery<ProcessView>('view');

export const STEP_NOT_ALLOWED = 'StepNotAllowed';

/** The names of the actors a machine leaves to its host. */
type ActorNames<M extends AnyStateMachine> = keyof NonNullable<NonNullable<Parameters<M['provide']>[0]>['actors']>;

/** Each of the machine's named actors, run as a Temporal activity: all of them, and no other. */
export type Effects<M extends AnyStateMachine> = Record<ActorNames<M>, (input: never) => Promise<unknown>>;

/**
 * Runs one process machine inside a Temporal workflow until it reaches a final state.
 * Timers of the machine become durable workflow timers (the sandbox's setTimeout), its actors
 * become activities, and replaying the history replays the machine to the same state.
 */
export async function hostProcess<M extends AnyStateMachine>(
  definition: ProcessDefinition<M>,
  input: InputFrom<M>,
  effects: Effects<M>,
): Promise<{ state: string }> {
  let inFlight = 0;
  const actors = Object.fromEntries(
    Object.entries(effects).map(([name, activity]) => [
      name,
      fromPromise(async ({ input: actorInput }: { input: unknown }) => {
        inFlight++;
        try {
          return await activity(actorInput as never);
        } finally {
          inFlight--;
        }
      }),
    ]),
  );
  const actor = createActor(definition.machine.provide({ actors } as never), { input });

  const steps = new Set<string>(definition.steps);
  const signals = new Set<string>(definition.signals ?? []);
  const snapshot = () => actor.getSnapshot() as AnyMachineSnapshot;
  const accepts = (event: StepEvent) => takes(snapshot(), event, Date.now());
  const view = (): ProcessView => publicView(definition, snapshot(), Date.now());

  const notAllowed = (event: StepEvent) =>
    ApplicationFailure.nonRetryable(`step "${String(event?.type)}" not allowed in state ${stateName(snapshot().value)}`, STEP_NOT_ALLOWED);

  let published = '';
  const publishState = () => {
    const state = stateName(snapshot().value);
    // States that only wait on an activity pass in milliseconds: operators see where they settle.
    if (state === published || inFlight > 0) return;
    published = state;
    upsertSearchAttributes([{ key: ProcessState, value: state }]);
  };
  // Also when the routes started the workflow with both (startSearchAttributes): skipping them
  // then would give histories already running other commands on replay.
  const codiceFiscale = definition.searchKey(input);
  if (codiceFiscale) upsertSearchAttributes([{ key: CodiceFiscale, value: codiceFiscale }]);
  actor.subscribe({ next: publishState, error: () => undefined });

  // Steps run one at a time: each answers with the outcome of its own event.
  let queue: Promise<unknown> = Promise.resolve();
  setHandler(
    stepUpdate,
    (event) => {
      const run = queue.then(async (): Promise<StepResult> => {
        // Validated on arrival, but a step queued behind another may find the state changed.
        if (!accepts(event)) throw notAllowed(event);
        const outcomes: Outcome[] = [];
        const subscription = actor.on('outcome', (emitted: { type: string } & Outcome) => {
          const { type: _type, ...outcome } = emitted;
          outcomes.push(outcome as Outcome);
        });
        actor.send({ ...event, at: Date.now() } as EventFromLogic<M>);
        await condition(() => inFlight === 0);
        subscription.unsubscribe();
        publishState();
        return { outcome: outcomes.at(-1) ?? { code: 'accepted' }, view: view() };
      });
      queue = run.catch(() => undefined);
      return run;
    },
    {
      validator: (event) => {
        if (!steps.has(event?.type) || !accepts(event)) throw notAllowed(event);
      },
    },
  );
  setHandler(eventSignal, (event) => {
    if (signals.has(event.type)) actor.send({ ...event, at: Date.now() } as EventFromLogic<M>);
  });
  setHandler(viewQuery, view);

  actor.start();
  publishState();
  await condition(() => snapshot().status !== 'active' && inFlight === 0);
  await condition(allHandlersFinished);
  // An error no transition handles is a bug in the machine: fail the workflow where operators see it.
  if (snapshot().status === 'error') throw ApplicationFailure.nonRetryable(`machine failed in state ${stateName(snapshot().value)}: ${String(snapshot().error)}`, 'MachineFailed');
  return { state: stateName(snapshot().value) };
}
