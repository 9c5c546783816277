import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Env } from '../../runtime/config.js';
import { freePort, scratchDatabase, type Database } from '../../runtime/database.js';
import { createLogger } from '../../runtime/logger.js';
import { startStack, type Stack } from '../../runtime/stack.js';
import { startDevServer, type DevServer } from '../../runtime/temporal.js';
import { withTimeout, type Attributed } from './stats.js';

export const CLEANUP_TIMEOUT_MS = 15_000;

/**
 * A bench's ratios per concurrency: varco's, and the floor's (the least any implementation of
 * the same rules does, measured the same way in the same run).
 */
export interface BenchResult {
  ratios: { concurrency: number; ratio: number; floor: number }[];
}

export interface BenchEnv {
  stack: Stack;
  temporalAddress: string;
  databaseOrigin: Database['origin'];
  /** the bench's own Temporal server and Postgres backends, whose CPU counts as varco's */
  attributed: Attributed;
  /** stops everything that was started, in reverse order; safe to call twice */
  stop(): Promise<void>;
}

/** The pid of the `temporal server start-dev` listening on address (Linux /proc), to read its CPU time. */
function findTemporalServer(address: string): number[] {
  const port = address.split(':').pop();
  try {
    return fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const args = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
          return args.includes('start-dev') && args[args.indexOf('--port') + 1] === port && !args[0]?.endsWith('sh');
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The real parts, in this process, as the tests set them up: a Temporal dev server in memory
 * on free ports, a fresh database, and varco's stack (API, worker bundling workflows/, mail and
 * SMS captures). Whatever was started is stopped again if a later part fails.
 */
export async function startBenchEnv(settings: Partial<Record<keyof Env, string>> = {}): Promise<BenchEnv> {
  const cleanups: { what: string; run: () => Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  // Every caller (the normal end, an error, a signal) waits for the one same cleanup.
  const stop = () =>
    (stopping ??= (async () => {
      // Each part gets a bounded time: an API still holding a request to a dead worker must not
      // keep the Temporal server running and the database in place.
      for (const { what, run } of cleanups.reverse()) {
        await withTimeout(run(), CLEANUP_TIMEOUT_MS, what).catch((error: unknown) => process.stderr.write(`bench: ${what}: ${String(error)}\n`));
      }
    })());
  try {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'varco-bench-'));
    cleanups.push({ what: 'removing the data folder', run: async () => fs.rmSync(tmp, { recursive: true, force: true }) });
    const [serverResult, databaseResult] = await Promise.allSettled([
      (async (): Promise<DevServer> => {
        const server = await startDevServer({ port: await freePort(), httpPort: await freePort(), metricsPort: await freePort() });
        cleanups.push({ what: 'stopping the Temporal dev server', run: () => server.stop() });
        return server;
      })(),
      (async () => {
        const db = await scratchDatabase('varco_bench', tmp);
        cleanups.push({ what: `dropping the database (${db.origin})`, run: () => db.stop() });
        return db;
      })(),
    ]);
    // Both are awaited before failing, so each one that started has its cleanup registered.
    if (serverResult.status === 'rejected') throw serverResult.reason;
    if (databaseResult.status === 'rejected') throw databaseResult.reason;
    const devServer = serverResult.value;
    const database = databaseResult.value;
    const config = loadConfig({
      ...process.env,
      VARCO_ENV: 'test',
      PORT: '0',
      DATA_DIR: path.join(tmp, 'data'),
      LOG_LEVEL: 'warn',
      LOGIN_IP_MAX_FAILURES: '1000000',
      OTP_REQUESTS_PER_HOUR: '1000000',
      ...settings,
      // the bench's own Temporal server and database, whatever the shell says
      TEMPORAL_ADDRESS: undefined,
      DATABASE_URL: undefined,
    });
    // The report goes to stdout; the service's own log lines (warnings only) to stderr.
    const logger = createLogger(config.logLevel, process.stderr);
    const stack = await startStack({ config, logger, temporalAddress: devServer.address, databaseUrl: database.url });
    cleanups.push({ what: 'stopping the stack', run: () => stack.stop() });
    const temporalPids = findTemporalServer(devServer.address);
    const attributed: Attributed = {
      temporalPids: () => temporalPids,
      // PGlite runs inside this process: its CPU is already the process's.
      postgresPids: async () =>
        database.origin === 'embedded'
          ? []
          : (await stack.pool.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database()')).rows.map((r) => r.pid),
    };
    return { stack, temporalAddress: devServer.address, databaseOrigin: database.origin, attributed, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
