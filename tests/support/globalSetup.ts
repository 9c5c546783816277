import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../db/migrate.js';
import { createPool, freePort, scratchDatabase } from '../../runtime/database.js';
import { FAILURE_CONVERTER_PATH, projectRoot, startDevServer } from '../../runtime/temporal.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
    workflowBundlePath: string;
  }
}

/**
 * Real parts for the whole run, on free ports: a Temporal dev server (in memory), a fresh
 * database (on the machine's Postgres, else PGlite), and one workflow bundle every test
 * worker loads instead of bundling again.
 */
export default async function setup(project: TestProject) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'varco-test-'));
  const [temporal, database, bundle] = await Promise.all([
    (async () =>
      startDevServer({ port: await freePort(), httpPort: await freePort(), metricsPort: await freePort() }))(),
    scratchDatabase('varco_test', tmp),
    bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'workflows', 'index.ts'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietLogger }),
  ]);
  const pool = createPool(database.url, 1);
  await migrate(pool);
  await pool.end();
  const workflowBundlePath = path.join(tmp, 'workflows.js');
  fs.writeFileSync(workflowBundlePath, bundle.code);

  project.provide('temporalAddress', temporal.address);
  project.provide('databaseUrl', database.url);
  project.provide('workflowBundlePath', workflowBundlePath);

  return async () => {
    await temporal.stop();
    await database.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
