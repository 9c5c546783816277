import type { AnyStateMachine, EventFromLogic, InputFrom, SnapshotFrom } from 'xstate';

/** Every event a host sends carries the host's clock, so machines stay pure and testable. */
export type Stamped<E> = E & { at: number };

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
