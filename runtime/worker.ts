import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { ActivityDeps } from '../activities/deps.js';
import { dataConverter, projectRoot } from './temporal.js';

export interface WorkerSetup {
  address: string;
  deps: ActivityDeps;
  /** a pre-built bundle (tests build one for every worker); otherwise workflows/ is bundled at start */
  workflowBundlePath?: string;
}

let runtimeInstalled = false;

export async function createWorker({ address, deps, workflowBundlePath }: WorkerSetup): Promise<Worker> {
  const { config } = deps;
  if (!runtimeInstalled) {
    // The SDK's own chatter (bundler output, state changes) only when something goes wrong.
    Runtime.install({ logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'INFO' : 'WARN') });
    runtimeInstalled = true;
  }
  const connection = await NativeConnection.connect({ address, tls: config.temporal.tls ? {} : undefined, apiKey: config.temporal.apiKey });
  const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = workflowBundlePath
    ? { workflowBundle: { codePath: workflowBundlePath } }
    : { workflowsPath: path.join(projectRoot, 'workflows', 'index.ts') };
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities: createActivities(deps),
    dataConverter: dataConverter(deps.secrets.keyring),
    ...workflows,
  });
}
