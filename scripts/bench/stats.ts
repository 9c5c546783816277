import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Nearest-rank percentile (values in ms). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);

// ---------------------------------------------------------------- CPU accounting

/** Where the machine's CPU went while something ran, in ms of CPU time (Linux /proc; undefined elsewhere). */
export interface CpuSample {
  wallMs: number;
  /** this process, every thread: event loop, libuv pool (argon2), Temporal core, the bench's client */
  processMs: number;
  /** the bench's own Temporal dev server */
  temporalMs?: number;
  /** the Postgres backends serving the bench's database */
  postgresMs?: number;
  /** the whole machine */
  machineMs?: number;
  /** share of the wall time the main thread's event loop was busy */
  eventLoopUtilization: number;
}

/** Processes outside this one whose CPU the bench attributes to varco's parts. */
export interface Attributed {
  temporalPids: () => number[];
  postgresPids: () => Promise<number[]>;
}

const JIFFY_MS = 10; // USER_HZ is 100 on Linux

function machineJiffies(): number | undefined {
  try {
    const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    return fields.slice(0, 8).reduce((a, b) => a + b, 0) - (fields[3] ?? 0) - (fields[4] ?? 0);
  } catch {
    return undefined;
  }
}

function pidJiffies(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after the command: state is field 3, utime 14 and stime 15 (1-based in proc(5))
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function sumPids(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const j = pidJiffies(pid);
    if (j !== undefined) out.set(pid, j);
  }
  return out;
}

/** CPU jiffies of pids now, minus what they had at `before` (a pid born since counts from zero). */
function delta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, j] of after) total += j - (before.get(pid) ?? 0);
  return total;
}

/** Starts measuring; the returned function stops and reports. */
export async function cpuMeter(attributed?: Attributed): Promise<() => Promise<CpuSample>> {
  const pgPids0 = attributed ? await attributed.postgresPids() : [];
  const tPids = attributed?.temporalPids() ?? [];
  const pg0 = sumPids(pgPids0);
  const t0j = sumPids(tPids);
  const m0 = machineJiffies();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  return async () => {
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const m1 = machineJiffies();
    const t1j = sumPids(tPids);
    const pg1 = attributed ? sumPids([...new Set([...pgPids0, ...(await attributed.postgresPids())])]) : new Map<number, number>();
    const onLinux = m0 !== undefined && m1 !== undefined;
    return {
      wallMs,
      processMs: (cpu.user + cpu.system) / 1000,
      temporalMs: onLinux && tPids.length ? delta(t0j, t1j) * JIFFY_MS : undefined,
      postgresMs: onLinux && attributed ? delta(pg0, pg1) * JIFFY_MS : undefined,
      machineMs: onLinux ? (m1 - m0) * JIFFY_MS : undefined,
      eventLoopUtilization: elu.utilization,
    };
  };
}

const addOpt = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a + b);

export function addSamples(a: CpuSample, b: CpuSample): CpuSample {
  const wallMs = a.wallMs + b.wallMs;
  return {
    wallMs,
    processMs: a.processMs + b.processMs,
    temporalMs: addOpt(a.temporalMs, b.temporalMs),
    postgresMs: addOpt(a.postgresMs, b.postgresMs),
    machineMs: addOpt(a.machineMs, b.machineMs),
    eventLoopUtilization: (a.eventLoopUtilization * a.wallMs + b.eventLoopUtilization * b.wallMs) / wallMs,
  };
}

/** CPU of processes that are not varco's parts (other work on the machine), in cores. */
export function foreignCores(s: CpuSample): number | undefined {
  if (s.machineMs === undefined) return undefined;
  return Math.max(0, s.machineMs - s.processMs - (s.temporalMs ?? 0) - (s.postgresMs ?? 0)) / s.wallMs;
}

// ---------------------------------------------------------------- load generation

/** No operation of the bench takes this long unless something is broken (a worker that died, say). */
export const OP_TIMEOUT_MS = 60_000;

/** Rejects when promise has not settled within ms; the promise itself goes on in the background. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

export interface Run<T> {
  /** latency of every operation, ms */
  latencies: number[];
  results: T[];
  wallMs: number;
  /** operations per second of wall time */
  rate: number;
  cpu: CpuSample;
}

/**
 * Runs ops first..first+count-1 with `concurrency` in flight at any time (closed loop: each lane
 * starts its next operation as soon as the previous one ends), measuring CPU meanwhile.
 */
export async function runConcurrent<T>(
  count: number,
  concurrency: number,
  op: (index: number) => Promise<T>,
  options: { first?: number; attributed?: Attributed } = {},
): Promise<Run<T>> {
  const first = options.first ?? 0;
  const latencies: number[] = new Array(count);
  const results: T[] = new Array(count);
  let next = 0;
  let failed = false;
  const stop = await cpuMeter(options.attributed);
  const lane = async () => {
    // After a failure no lane starts another operation: the bench is about to stop the stack.
    while (!failed) {
      const i = next++;
      if (i >= count) return;
      const t0 = performance.now();
      try {
        results[i] = await withTimeout(op(first + i), OP_TIMEOUT_MS, `operation ${first + i}`);
      } catch (error) {
        failed = true;
        throw error;
      }
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  const cpu = await stop();
  return { latencies, results, wallMs: cpu.wallMs, rate: (count * 1000) / cpu.wallMs, cpu };
}

function merge<T>(runs: Run<T>[]): Run<T> {
  const latencies = runs.flatMap((r) => r.latencies);
  const wallMs = runs.reduce((s, r) => s + r.wallMs, 0);
  return { latencies, results: runs.flatMap((r) => r.results), wallMs, rate: (latencies.length * 1000) / wallMs, cpu: runs.map((r) => r.cpu).reduce(addSamples) };
}

/**
 * Measures several variants (the product first, then its baselines) in alternating chunks,
 * in order A B … on even chunks and … B A on odd ones (A B B A for two variants, one round), so
 * that other load on the machine and any drift weigh on all alike. Each variant runs `count`
 * operations in all, in 2 × rounds chunks.
 */
export async function interleaved<T>(
  count: number,
  concurrency: number,
  variants: ((index: number) => Promise<T>)[],
  options: { rounds?: number; attributed?: Attributed } = {},
): Promise<Run<T>[]> {
  const chunks = 2 * Math.max(1, Math.min(options.rounds ?? 1, Math.floor(count / 2)));
  const sizes = Array.from({ length: chunks }, (_, k) => Math.floor(count / chunks) + (k < count % chunks ? 1 : 0));
  const runs: Run<T>[][] = variants.map(() => []);
  const done = variants.map(() => 0);
  for (const [k, n] of sizes.entries()) {
    if (n === 0) continue;
    const order = variants.map((_, v) => v);
    if (k % 2 === 1) order.reverse();
    for (const v of order) {
      runs[v]!.push(await runConcurrent(n, concurrency, variants[v]!, { first: done[v], attributed: options.attributed }));
      done[v]! += n;
    }
  }
  return runs.map(merge);
}

/** CPU the bench attributes to an operation: this process, Postgres and the Temporal server (ms). */
export const attributedMs = (s: CpuSample) => s.processMs + (s.postgresMs ?? 0) + (s.temporalMs ?? 0);

// ---------------------------------------------------------------- printing

export const fmt = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

/** A plain-text table: first row is the header; numbers right-aligned, text left-aligned. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const isNumber = (cell: string) => /^[-+]?[\d.]+%?$|^-$/.test(cell);
  const line = (r: string[]) =>
    r
      .map((cell, c) => (isNumber(cell) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const [head, ...body] = cells;
  return [line(head!), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export const verdict = (ratio: number, goal: number) => (ratio >= goal ? 'PASS' : 'BELOW GOAL');

/** A warning when other work on the machine took a noticeable share of it while the bench measured. */
export function noiseWarning(samples: CpuSample[]): string | undefined {
  const cores = samples.map(foreignCores).filter((c): c is number => c !== undefined);
  if (cores.length === 0) return undefined;
  const worst = Math.max(...cores);
  if (worst < 0.25) return undefined;
  return (
    `note: other processes kept up to ${fmt(worst, 2)} of this machine's cores busy while the bench measured ` +
    `(average ${fmt(mean(cores), 2)}); the chunks alternate so both sides share it, but the throughput ratios are noisier ` +
    'than usual: the CPU-cost ratio does not depend on it.'
  );
}
