import { proxySinks, workflowInfo, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { ProcessState } from '../../workflows/searchAttributes.js';

/** What a replayed workflow reports when it ends: its result and the ProcessState it left for operators. */
export interface ReplayProbe extends Sinks {
  probe: { ended(result: unknown, processState: string | undefined): void };
}

const { probe } = proxySinks<ReplayProbe>();

/**
 * Bundled only into the history test's workflows: replay compares commands by their type, not
 * an upsert's values nor the result, so a renamed state would replay "deterministically".
 */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        const result = await next(input);
        probe.ended(result, workflowInfo().typedSearchAttributes.get(ProcessState));
        return result;
      },
    },
  ],
});
