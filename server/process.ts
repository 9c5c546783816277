import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { Outcome } from '../machines/process.js';
import { STEP_NOT_ALLOWED, type ProcessView, type StepEvent, type StepResult } from '../workflows/host.js';
import { HttpError } from './errors.js';

/** How one outcome of a process step is answered over HTTP. */
export interface OutcomeAnswer {
  status: number;
  message: string;
  /** outcome details the client may see (attemptsLeft, retryAfter…) */
  details?: string[];
}

const stepNotAllowed = () => new HttpError(409, 'step_not_allowed', 'Questa operazione non è possibile in questo momento della procedura.');
const notFound = () => new HttpError(404, 'process_not_found', 'Nessuna procedura in corso: avviala di nuovo.');

function isNotFound(error: unknown): boolean {
  // 5 is gRPC's NOT_FOUND, which some client calls raise bare
  return error instanceof WorkflowNotFoundError || (error as { code?: number })?.code === 5;
}

export async function readView(handle: WorkflowHandle): Promise<ProcessView> {
  try {
    return await handle.query<ProcessView>('view');
  } catch (error) {
    if (isNotFound(error)) throw notFound();
    throw error;
  }
}

/**
 * Sends one step as a Temporal Update. A step the current state does not accept is refused
 * by the workflow's validator (409, nothing written to history); so is a step sent to a
 * process that has ended.
 */
export async function sendStep(handle: WorkflowHandle, event: StepEvent): Promise<StepResult> {
  try {
    return await handle.executeUpdate<StepResult, [StepEvent]>('step', { args: [event] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === STEP_NOT_ALLOWED) throw stepNotAllowed();
    if (isNotFound(error)) {
      // An ended workflow answers "not found" to updates too: tell it apart from one that never was.
      const exists = await handle.describe().then(() => true, () => false);
      throw exists ? stepNotAllowed() : notFound();
    }
    throw error;
  }
}

/** Turns a step's outcome into the answer: 2xx with the view, or the process's own 4xx. */
export function answer(result: StepResult, answers: Record<string, OutcomeAnswer>): { status: number; body: Record<string, unknown> } {
  const { outcome, view } = result;
  const mapped = answers[outcome.code];
  if (!mapped || mapped.status < 400) return { status: mapped?.status ?? 200, body: { outcome: outcome.code, ...pick(outcome, mapped?.details), view } };
  throw new HttpError(mapped.status, outcome.code, mapped.message, { ...pick(outcome, mapped.details), view });
}

function pick(outcome: Outcome, keys: string[] = []): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in outcome).map((k) => [k, outcome[k]]));
}

export function processHandle(client: Client, workflowId: string): WorkflowHandle {
  return client.workflow.getHandle(workflowId);
}
