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

/**
 * The SDK's own lines (workflow and activity failures, worker state) go through the service's
 * logger, so they are redacted like every other line and land where operators read the rest.
 * Its chatter (bundler output, state changes) only when something goes wrong.
 */
function sdkLogger(logger: Logger, level: string): DefaultLogger {
  return new DefaultLogger(level === 'debug' || level === 'trace' ? 'INFO' : 'WARN', (entry) => {
    const { error, ...meta } = entry.meta ?? {};
    logger[entry.level.toLowerCase() as Lowercase<typeof entry.level>]({ ...meta, ...(error === undefined ? {} : { err: kindOf(error) }) }, entry.message);
  });
}

/**
 * What a log line may say of an error: its kind, never its message, which may quote a
 * recipient (a provider refusing a number). The whole failure is in the workflow's history,
 * encrypted, where operators read it through the codec.
 */
function kindOf(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const { type, code } = error as { type?: unknown; code?: unknown };
  return { name: error.name, ...(typeof type === 'string' ? { type } : {}), ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}) };
}

export async function createWorker({ address, deps, workflowBundlePath }: WorkerSetup, logger: Logger): Promise<Worker> {
  const { config } = deps;
  if (!runtimeInstalled) {
    // One runtime per process: the first worker's logger serves every later one.
    Runtime.install({ logger: sdkLogger(logger, config.logLevel) });
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
    const next = await createWorker(setup, logger);
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
