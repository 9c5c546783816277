import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
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

export interface SupervisedWorker {
  /** the worker running now */
  current(): Worker;
  stop(): Promise<void>;
}

/**
 * Keeps a worker running: should the SDK shut one down on an internal error, a new one takes
 * over, so the API never stays up with nobody executing its workflows. Workflows lose
 * nothing meanwhile: their tasks wait in Temporal.
 */
export async function superviseWorker(setup: WorkerSetup, logger: Logger): Promise<SupervisedWorker> {
  let worker = await createWorker(setup);
  let stopping = false;
  const loop = (async () => {
    for (let restarts = 0; ; restarts++) {
      try {
        await worker.run();
      } catch (error) {
        if (stopping) return;
        logger.error({ err: error, restarts }, 'il worker Temporal si è fermato per un errore: ne avvio un altro');
      }
      if (stopping) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** restarts, 10_000)));
      worker = await createWorker(setup);
    }
  })();
  return {
    current: () => worker,
    async stop() {
      stopping = true;
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await loop;
    },
  };
}
