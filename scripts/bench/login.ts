import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { PasswordHasher } from '../../activities/credentials.js';
import type { BenchEnv, BenchResult } from './env.js';
import { postJson } from './http.js';
import { startLoginFloor } from './loginFloor.js';
import { MEMBER_PASSWORD, provisionMembers, type BenchMember } from './subjects.js';
import { attributedMs, fmt, foreignCores, interleaved, mean, noiseWarning, percentile, runConcurrent, table, verdict, type CpuSample, type Run } from './stats.js';

export const LOGIN_GOAL = 0.85;
const CONCURRENCIES = [1, 4, 16];
/** more accounts than the highest concurrency: no account ever has two logins in flight */
const ACCOUNTS = 48;

/** Counts the queries sent through pool.query, and the time until each answered, while installed. */
function queryMeter(pool: pg.Pool) {
  const original = pool.query;
  let count = 0;
  let ms = 0;
  (pool as { query: unknown }).query = function (this: pg.Pool, ...args: unknown[]) {
    const t0 = performance.now();
    const result = (original as (...a: unknown[]) => unknown).apply(this, args);
    count++;
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      const done = () => void (ms += performance.now() - t0);
      (result as Promise<unknown>).then(done, done);
    }
    return result;
  };
  return {
    read: () => ({ count, ms }),
    restore: () => void ((pool as { query: unknown }).query = original),
  };
}

/** The same request to a server that only answers: the floor under any request over HTTP. */
async function bareHttp(url: string, count: number): Promise<{ latencyMs: number; cpuMs: number }> {
  const agent = new http.Agent({ keepAlive: true });
  try {
    const op = async () => void (await postJson(agent, url, { username: 'x', password: 'y' }));
    await runConcurrent(count, 1, op);
    const run = await runConcurrent(count, 1, op);
    return { latencyMs: mean(run.latencies), cpuMs: run.cpu.processMs / count };
  } finally {
    agent.destroy();
  }
}

const perOp = (ms: number | undefined, ops: number) => (ms === undefined ? undefined : ms / ops);

export async function loginBench(env: BenchEnv, scale: number): Promise<BenchResult> {
  const { stack, attributed } = env;
  const requests = Math.max(16, Math.round(200 * scale));
  const out = (line = '') => process.stdout.write(`${line}\n`);

  out('== login: POST /api/session over HTTP vs raw argon2id verify ==');
  out('floor: the least a login counting attempts and keeping sessions in Postgres does (node:http; one statement counting the attempt and reading the hash,');
  out('       the same verify, one insert for the session; loginFloor.ts). Each member logs in from an address of its own (X-Forwarded-For).');
  const { memoryCost, timeCost, parallelism } = stack.config.argon2;
  out(
    `argon2id m=${memoryCost} KiB, t=${timeCost}, p=${parallelism}; ${requests} requests per concurrency (alternating chunks: login raw floor floor raw login, twice when there are enough); ` +
      `${ACCOUNTS} accounts; libuv pool ${process.env.UV_THREADPOOL_SIZE ?? 4} threads`,
  );

  const members = await provisionMembers(stack, ACCOUNTS);
  // plain logins: no first-access password to change
  await stack.pool.query('update credentials set must_change = false');

  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  // Each member logs in from an address of its own, as real members do: the per-address
  // counter then counts users, not the bench.
  const addresses = new Map(members.map((m, i) => [m.id, { 'x-forwarded-for': `2001:db8:${(i + 1).toString(16)}::1` }]));
  const login = async (member: BenchMember) => {
    const { status, body } = await postJson(agent, `${stack.url}/api/session`, { username: member.codiceFiscale, password: member.password }, addresses.get(member.id));
    if (status !== 200) throw new Error(`login: expected 200, got ${status} ${body.slice(0, 300)}`);
  };
  let nextAccount = 0;
  const loginOp = () => login(members[nextAccount++ % members.length]!);

  const hasher = new PasswordHasher(stack.config.argon2);
  const stored = await hasher.hash(MEMBER_PASSWORD);
  const verifyOp = async () => {
    if (!(await hasher.verify(stored, MEMBER_PASSWORD))) throw new Error('raw verify failed');
  };

  const floorServer = await startLoginFloor(stack.pool, hasher);
  const floorOp = async () => {
    const member = members[nextAccount++ % members.length]!;
    const { status, body } = await postJson(agent, `${floorServer.url}/login`, { username: member.codiceFiscale, password: member.password });
    if (status !== 200) throw new Error(`floor login: expected 200, got ${status} ${body.slice(0, 300)}`);
  };
  try {
    // Warm up JIT, connection pools and keep-alive sockets on both sides.
    await runConcurrent(32, 16, loginOp);
    await runConcurrent(32, 16, verifyOp);
    await runConcurrent(32, 16, floorOp);

    const rows: { concurrency: number; login: Run<void>; raw: Run<void>; floor: Run<void> }[] = [];
    for (const concurrency of CONCURRENCIES) {
      await runConcurrent(concurrency * 2, concurrency, loginOp);
      await runConcurrent(concurrency * 2, concurrency, verifyOp);
      await runConcurrent(concurrency * 2, concurrency, floorOp);
      // two rounds when each chunk still keeps every lane busy for a while, else one
      const rounds = requests >= 8 * concurrency ? 2 : 1;
      const [loginRun, rawRun, floorRun] = await interleaved<void>(requests, concurrency, [loginOp, verifyOp, floorOp], { rounds, attributed });
      rows.push({ concurrency, login: loginRun!, raw: rawRun!, floor: floorRun! });
    }

    // Where a login's time goes beyond argon2: the queries it sends, at concurrency 1.
    const probeCount = Math.max(10, Math.round(40 * scale));
    const probe = queryMeter(stack.pool);
    let probeRun: Run<void>;
    try {
      probeRun = await runConcurrent(probeCount, 1, loginOp);
    } finally {
      probe.restore();
    }
    const queries = probe.read();
    const verifyProbe = await runConcurrent(probeCount, 1, verifyOp);
    const bare = await bareHttp(`${floorServer.url}/answer`, probeCount * 4);

    out();
    out(
      table([
        ['concurrency', 'logins/s', 'p50 ms', 'p99 ms', 'raw verifies/s', 'raw p50 ms', 'raw p99 ms', 'ratio', `goal >= ${LOGIN_GOAL}`, 'floor logins/s', 'floor ratio'],
        ...rows.map((r) => {
          const ratio = r.login.rate / r.raw.rate;
          return [
            r.concurrency,
            fmt(r.login.rate, 2),
            fmt(percentile(r.login.latencies, 50)),
            fmt(percentile(r.login.latencies, 99)),
            fmt(r.raw.rate, 2),
            fmt(percentile(r.raw.latencies, 50)),
            fmt(percentile(r.raw.latencies, 99)),
            fmt(ratio, 2),
            verdict(ratio, LOGIN_GOAL),
            fmt(r.floor.rate, 2),
            fmt(r.floor.rate / r.raw.rate, 2),
          ];
        }),
      ]),
    );

    out();
    out('where the time goes: CPU ms per operation (process = this process: API, argon2, the bench client; pg = Postgres backends; temporal = the dev server)');
    const cpuCells = (c: CpuSample, ops: number) => [
      fmt(perOp(c.processMs, ops), 2),
      fmt(perOp(c.postgresMs, ops), 2),
      fmt(perOp(c.temporalMs, ops), 2),
      fmt(perOp(attributedMs(c), ops), 2),
      `${fmt(c.eventLoopUtilization * 100)}%`,
      fmt(foreignCores(c), 2),
    ];
    out(
      table([
        ['concurrency', 'what', 'process', 'pg', 'temporal', 'total', 'event loop busy', 'other cores busy', 'CPU-cost ratio'],
        ...rows.flatMap((r) => {
          const costRatio = perOp(attributedMs(r.raw.cpu), r.raw.latencies.length)! / perOp(attributedMs(r.login.cpu), r.login.latencies.length)!;
          return [
            [r.concurrency, 'login', ...cpuCells(r.login.cpu, r.login.latencies.length), fmt(costRatio, 2)],
            [r.concurrency, 'raw verify', ...cpuCells(r.raw.cpu, r.raw.latencies.length), ''],
            [r.concurrency, 'floor', ...cpuCells(r.floor.cpu, r.floor.latencies.length), fmt(perOp(attributedMs(r.raw.cpu), r.raw.latencies.length)! / perOp(attributedMs(r.floor.cpu), r.floor.latencies.length)!, 2)],
          ];
        }),
      ]),
    );
    out('(CPU-cost ratio = raw verify CPU ÷ login CPU, or ÷ floor CPU on the floor\'s row: the throughput ratio a saturated, otherwise idle machine would show)');
    const warning = noiseWarning(rows.flatMap((r) => [r.login.cpu, r.raw.cpu, r.floor.cpu]));
    if (warning) out(warning);
    out();
    const loginMean = mean(probeRun.latencies);
    const verifyMean = mean(verifyProbe.latencies);
    out(
      `at concurrency 1 (${probeCount} more of each): a login takes ${fmt(loginMean, 2)} ms on average, a raw verify ${fmt(verifyMean, 2)} ms; ` +
        `${fmt(loginMean - verifyMean, 2)} ms (${fmt(((loginMean - verifyMean) / loginMean) * 100)}%) of a login is not argon2id:`,
    );
    out(
      `  ${fmt(queries.count / probeCount, 1)} pool.query round trips per login taking ${fmt(queries.ms / probeCount, 2)} ms together (they run one after another), ` +
        `the rest is HTTP, Express (helmet, pino-http, JSON, cookies) and the bench's own client;`,
    );
    out(
      `  for scale, the same request to a bare node:http server in this process takes ${fmt(bare.latencyMs, 2)} ms and ${fmt(bare.cpuMs, 2)} ms of CPU (client and server).`,
    );
    out();
    return { ratios: rows.map((r) => ({ concurrency: r.concurrency, ratio: r.login.rate / r.raw.rate, floor: r.floor.rate / r.raw.rate })) };
  } finally {
    await floorServer.stop();
    agent.destroy();
  }
}
