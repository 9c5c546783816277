/**
 * `npm run bench -- [login|registration] [--quick]`: measures varco against its own baseline
 * in one run, on the real parts started here (Temporal dev server, fresh Postgres database,
 * the whole stack), and prints ratios. Absolute figures depend on the machine; the ratios
 * are what the goals are about.
 *
 * BENCH_SCALE=<factor> scales the number of requests and flows (--quick is 0.25).
 */
import os from 'node:os';
import { startBenchEnv, type BenchEnv, type BenchResult } from './bench/env.js';
import { LOGIN_GOAL, loginBench } from './bench/login.js';
import { REGISTRATION_GOAL, registrationBench } from './bench/registration.js';
import { fmt, verdict } from './bench/stats.js';

/** How far the same ratio moved between two runs on the 2-core development machine. */
const RUN_NOISE = 0.05;
const BENCHES: Record<string, { goal: number; run: (env: BenchEnv, scale: number) => Promise<BenchResult> }> = {
  login: { goal: LOGIN_GOAL, run: loginBench },
  registration: { goal: REGISTRATION_GOAL, run: registrationBench },
};

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run bench -- [${Object.keys(BENCHES).join('|')}] [--quick]   (BENCH_SCALE=<factor> scales the runs)\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const names = args.filter((a) => !a.startsWith('--'));
for (const a of args.filter((x) => x.startsWith('--') && x !== '--quick')) usage(`unknown option ${a}`);
for (const n of names) if (!(n in BENCHES)) usage(`unknown bench "${n}"`);
const selected = names.length ? [...new Set(names)] : Object.keys(BENCHES);
const scaleEnv = process.env.BENCH_SCALE;
const scale = scaleEnv !== undefined ? Number(scaleEnv) : quick ? 0.25 : 1;
if (!(scale > 0)) usage(`BENCH_SCALE must be a positive number, got "${scaleEnv}"`);

const began = Date.now();
process.stdout.write(
  `varco bench: ${selected.join(', ')}; scale ${scale}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}\n` +
    'figures are for this machine and this run; compare the ratios, not the absolute rates\n',
);

let starting: Promise<BenchEnv> | undefined;
let exitCode = 0;
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`bench: ${signal}, stopping everything it started\n`);
  // Each cleanup step has its own bound (see env.ts); this one is for all of them together.
  setTimeout(() => process.exit(130), 60_000).unref();
  void (starting ?? Promise.reject(new Error('nothing started')))
    .then((env) => env.stop())
    .catch(() => undefined)
    .finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const summary: string[] = [];
let env: BenchEnv | undefined;
try {
  const t0 = Date.now();
  starting = startBenchEnv();
  env = await starting;
  process.stdout.write(`real parts up in ${fmt((Date.now() - t0) / 1000)} s: Temporal dev server ${env.temporalAddress}, Postgres (${env.databaseOrigin}), API ${env.stack.url}\n\n`);
  for (const name of selected) {
    const bench = BENCHES[name]!;
    const result = await bench.run(env, scale);
    for (const { concurrency, ratio, floor } of result.ratios) {
      // A goal the floor itself misses is out of reach on this machine, whatever varco does;
      // a floor within run-to-run noise of the goal leaves no room for anything above it.
      const reach =
        floor <= bench.goal - RUN_NOISE ? '; the floor misses it too: out of reach here' : floor < bench.goal + RUN_NOISE ? '; the floor is within noise of it' : '';
      summary.push(
        `${name.padEnd(13)} concurrency ${String(concurrency).padStart(2)}  ratio ${fmt(ratio, 2)}  (goal >= ${bench.goal}; floor ${fmt(floor, 2)})  ${verdict(ratio, bench.goal)}${reach}`,
      );
    }
  }
  process.stdout.write(`== summary ==\n${summary.join('\n')}\n`);
} catch (error) {
  exitCode = 1;
  if (!interrupted) {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    const workerState = env?.stack.worker?.current().getState();
    if (workerState && workerState !== 'RUNNING') {
      process.stderr.write(
        `bench: varco's Temporal worker is ${workerState}: it shut itself down during the run, and every request that needs ` +
          'a workflow failed or waited after that; its own error is above ("Core reported failure ...").\n',
      );
    }
  }
} finally {
  await env?.stop();
  if (!interrupted) process.stdout.write(`total ${fmt((Date.now() - began) / 1000)} s\n`);
}
// after a signal, its handler ends the process once everything has stopped
if (!interrupted) process.exit(exitCode);
