import { createActor, type AnyMachineSnapshot, type AnyStateMachine, type EventFromLogic, type InputFrom, type SnapshotFrom } from 'xstate';

/** Every event a host sends carries the host's clock, so machines stay pure and testable. */
export type Stamped<E> = E & { at: number };

export type StepEvent = { type: string } & Record<string, unknown>;

/** What a step answers besides the new state: "otp_invalid, 3 attempts left". */
export interface Outcome {
  code: string;
  [detail: string]: unknown;
}

/**
 * A process as a host runs it: the machine, which of its events users send as steps (Temporal
 * Updates) and which arrive from elsewhere (Signals), and its public view.
 */
export interface ProcessDefinition<M extends AnyStateMachine> {
  machine: M;
  steps: readonly EventFromLogic<M>['type'][];
  signals?: readonly EventFromLogic<M>['type'][];
  /** what anyone may see of the process: never a secret, never a whole contact */
  view(snapshot: SnapshotFrom<M>): Record<string, unknown>;
  /** codice fiscale for the CodiceFiscale search attribute, when the subject has one */
  searchKey(input: InputFrom<M>): string | null;
}

export interface ProcessView {
  state: string;
  status: 'active' | 'done';
  nextSteps: string[];
  [detail: string]: unknown;
}

/** "codeIssued.awaitingCode" from XState's nested state value. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? ['unknown', undefined];
  return child === undefined || (typeof child === 'object' && child !== null && Object.keys(child).length === 0) ? key : `${key}.${stateName(child)}`;
}

/** Whether the snapshot takes this step now; a guard that cannot read a malformed event refuses it. */
export function accepts(snapshot: AnyMachineSnapshot, event: StepEvent, now: number): boolean {
  try {
    return snapshot.status === 'active' && snapshot.can({ ...event, at: now });
  } catch {
    return false;
  }
}

/** The public view of a process at a snapshot: state, the steps it takes now, its own details. */
export function publicView<M extends AnyStateMachine>(definition: ProcessDefinition<M>, snapshot: AnyMachineSnapshot, now: number): ProcessView {
  return {
    state: stateName(snapshot.value),
    status: snapshot.status === 'active' ? 'active' : 'done',
    nextSteps: definition.steps.filter((type) => accepts(snapshot, { type }, now)),
    ...definition.view(snapshot as SnapshotFrom<M>),
  };
}

/** The view of a process that has just started, computed without asking its workflow. */
export function initialView<M extends AnyStateMachine>(definition: ProcessDefinition<M>, input: InputFrom<M>, now: number): ProcessView {
  return publicView(definition, createActor(definition.machine, { input }).getSnapshot() as AnyMachineSnapshot, now);
}
