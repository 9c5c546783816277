import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { Request } from 'express';
import { audit, type AuditEventName } from '../activities/audit.js';
import type { AnyStateMachine } from 'xstate';
import { initialView, type Outcome, type ProcessDefinition, type ProcessView, type StepEvent } from '../machines/process.js';
import { STEP_NOT_ALLOWED, stepUpdate, viewQuery, type StepResult } from '../workflows/host.js';
import { startSearchAttributes } from '../workflows/searchAttributes.js';
import type { AppContext } from './context.js';
import { HttpError } from './errors.js';
import { session } from './session.js';

/** How one outcome of a process step is answered over HTTP. */
export interface OutcomeAnswer {
  status: number;
  message: string;
  /** outcome details the client may see (attemptsLeft, retryAfter…) */
  details?: string[];
}

export interface ProcessRoutesOptions {
  definition: ProcessDefinition<AnyStateMachine>;
  /** the workflow function's name */
  workflowType: string;
  /** deterministic, so a double click cannot start two */
  workflowId: (subjectId: string) => string;
  answers: Record<string, OutcomeAnswer>;
  audit: { started: AuditEventName; step: AuditEventName };
}

const stepNotAllowed = () => new HttpError(409, 'step_not_allowed', 'Questa operazione non è possibile in questo momento della procedura.');
const notFound = () => new HttpError(404, 'process_not_found', 'Nessuna procedura in corso: avviala di nuovo.');

function isNotFound(error: unknown): boolean {
  // 5 is gRPC's NOT_FOUND, which some client calls raise bare
  return error instanceof WorkflowNotFoundError || (error as { code?: number })?.code === 5;
}

/**
 * What every process's routes do, once: start the subject's workflow (or find it running),
 * read its view, send a step as a Temporal Update and answer its outcome, auditing each.
 * A step the current state does not accept is refused by the workflow's validator (409,
 * nothing written to history); so is a step sent to a process that has ended.
 */
export function processRoutes(ctx: AppContext, options: ProcessRoutesOptions) {
  const handleFor = (req: Request) => ctx.temporal.workflow.getHandle(options.workflowId(session(req).subjectId));
  const record = (req: Request, event: AuditEventName, details: Record<string, unknown>) =>
    audit(ctx.pool, { subjectId: session(req).subjectId, event, ip: req.ip, requestId: String(req.id), details });

  async function view(req: Request, handle: WorkflowHandle = handleFor(req)): Promise<ProcessView> {
    try {
      return await handle.query(viewQuery);
    } catch (error) {
      if (isNotFound(error)) throw notFound();
      throw error;
    }
  }

  return {
    view,

    /** The subject's latest run, running or ended, as Temporal describes it; undefined when there is none. */
    async latest(req: Request): Promise<WorkflowExecutionDescription | undefined> {
      try {
        return await handleFor(req).describe();
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    /** Starts the subject's process, or finds it running (started: false, and nothing audited). */
    async start(req: Request, input: unknown): Promise<{ started: boolean; view: ProcessView }> {
      // A brand-new process is in its machine's initial state: no need to ask a workflow
      // whose first task may still be running.
      const current = initialView(options.definition, input, Date.now());
      try {
        await ctx.temporal.workflow.start(options.workflowType, {
          workflowId: options.workflowId(session(req).subjectId),
          taskQueue: ctx.config.temporal.taskQueue,
          args: [input],
          typedSearchAttributes: startSearchAttributes(options.definition.searchKey(input), current.state),
        });
      } catch (error) {
        // A double click, or a second tab, finds the process already running.
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        return { started: false, view: await view(req) };
      }
      await record(req, options.audit.started, { state: current.state });
      return { started: true, view: current };
    },

    /** Sends one step; answers 2xx with the view, or throws the process's own 4xx. */
    async step(req: Request, event: StepEvent): Promise<{ status: number; body: Record<string, unknown>; outcome: Outcome }> {
      const handle = handleFor(req);
      let result: StepResult;
      try {
        result = await handle.executeUpdate(stepUpdate, { args: [event] });
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === STEP_NOT_ALLOWED) throw stepNotAllowed();
        if (isNotFound(error)) {
          // An ended workflow answers "not found" to updates too: tell it apart from one that never was.
          const exists = await handle.describe().then(() => true, () => false);
          throw exists ? stepNotAllowed() : notFound();
        }
        throw error;
      }
      const { outcome } = result;
      await record(req, options.audit.step, { step: event.type, outcome: outcome.code, state: result.view.state });
      const mapped = options.answers[outcome.code];
      const details = pick(outcome, mapped?.details);
      if (mapped && mapped.status >= 400) throw new HttpError(mapped.status, outcome.code, mapped.message, { ...details, view: result.view });
      return { status: mapped?.status ?? 200, body: { outcome: outcome.code, ...details, view: result.view }, outcome };
    },
  };
}

function pick(outcome: Outcome, keys: string[] = []): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in outcome).map((k) => [k, outcome[k]]));
}
