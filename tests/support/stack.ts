import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig, type Env } from '../../runtime/config.js';
import { scratchDatabase } from '../../runtime/database.js';
import { createLogger } from '../../runtime/logger.js';
import { startStack, type Stack } from '../../runtime/stack.js';

export interface TestStack extends Stack {
  /** what the service wrote to its log, for tests that look for leaks */
  logLines: string[];
}

/**
 * One varco per test file, on the run's Temporal server and database: its own task queue,
 * API port, data folder and captures, with the configuration the file asks for.
 */
export async function startTestStack(
  env: Partial<Record<keyof Env, string>> = {},
  options: {
    worker?: boolean;
    /**
     * A database of the file's own, made with this name prefix and dropped with the stack, for
     * files whose workflows sweep whole tables (the relay, the reminders, housekeeping).
     */
    ownDatabase?: string;
    /** the Schedules (relay, reminders, housekeeping) run on the stack's database: only for files that test them */
    schedules?: boolean;
  } = {},
): Promise<TestStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'varco-stack-'));
  const config = loadConfig({
    VARCO_ENV: 'test',
    PORT: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    TEMPORAL_TASK_QUEUE: `varco-test-${randomBytes(4).toString('hex')}`,
    ...env,
  });
  const own = options.ownDatabase ? await scratchDatabase(options.ownDatabase, dataDir) : undefined;
  // What the stack leaves behind goes even when it fails to start or to stop.
  const cleanUp = async () => {
    try {
      await own?.stop();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };
  const logLines: string[] = [];
  const logger = createLogger(config.logLevel, { write: (line: string) => void logLines.push(line) });
  let stack: Stack;
  try {
    stack = await startStack({
      config,
      logger,
      temporalAddress: inject('temporalAddress'),
      databaseUrl: own?.url ?? inject('databaseUrl'),
      workflowBundlePath: inject('workflowBundlePath'),
      worker: options.worker,
      schedules: options.schedules ?? false,
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  return {
    ...stack,
    logLines,
    async stop() {
      try {
        await stack.stop();
      } finally {
        await cleanUp();
      }
    },
  };
}
