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
    // A worker whose core failed may never finish draining: bound it.
    shutdownForceTime: '10s',
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
 * over at once, while the old one drains, so the API never stays up with nobody executing its
 * workflows. Workflows lose nothing meanwhile: their tasks wait in Temporal and are retried.
 */
export async function superviseWorker(setup: WorkerSetup, logger: Logger): Promise<SupervisedWorker> {
  let stopping = false;
  const draining = new Set<Promise<void>>();
  let worker: Worker;
  let replacing = false;

  const launch = async (): Promise<void> => {
    const next = await createWorker(setup);
    worker = next;
    const run = next.run().catch((error: unknown) => {
      if (!stopping) logger.error({ err: error }, 'il worker Temporal si è fermato per un errore');
    });
    draining.add(run);
    void run.finally(() => draining.delete(run));
    replacing = false;
  };

  await launch();
  // The SDK reports an internal failure by leaving RUNNING: notice it without waiting for the drain.
  const watch = setInterval(() => {
    if (stopping || replacing || worker.getState() === 'RUNNING' || worker.getState() === 'INITIALIZED') return;
    replacing = true;
    logger.error({ state: worker.getState() }, 'worker Temporal non più attivo: ne avvio un altro');
    launch().catch((error: unknown) => {
      replacing = false;
      logger.error({ err: error }, 'avvio di un nuovo worker non riuscito: nuovo tentativo');
    });
  }, 200);
  watch.unref();

  return {
    current: () => worker,
    async stop() {
      stopping = true;
      clearInterval(watch);
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(draining);
    },
  };
}
