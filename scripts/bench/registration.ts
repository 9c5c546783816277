import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { NativeConnection, Worker } from '@temporalio/worker';
import { PasswordHasher } from '../../activities/credentials.js';
import { dataConverter } from '../../runtime/temporal.js';
import { CLEANUP_TIMEOUT_MS, type BenchEnv, type BenchResult } from './env.js';
import { summarizeHistories } from './history.js';
import { Browser, expectStatus } from './http.js';
import { registrationFloor, type FloorStep } from './registrationFloor.js';
import { provisionMembers, type BenchMember } from './subjects.js';
import { attributedMs, fmt, foreignCores, interleaved, mean, noiseWarning, percentile, runConcurrent, table, verdict, withTimeout, type Run } from './stats.js';

export const REGISTRATION_GOAL = 0.7;
const CONCURRENCIES = [1, 8];
/** Updates per baseline flow */
const BARE_UPDATES = 3;
/** Updates per skeleton flow: varco's channel and code steps */
const SKELETON_UPDATES = 2;
const here = path.dirname(fileURLToPath(import.meta.url));

type Steps = Record<string, number>;
interface Flow {
  steps: Steps;
  workflowId: string;
}

const perFlow = (run: Run<Flow>, ms: number | undefined) => (ms === undefined ? undefined : ms / run.results.length);

/** Latencies of each step across flows, and of whole flows (the sum of their steps). */
function stepsOf(flows: Flow[]): { steps: Map<string, number[]>; flowMs: number[] } {
  const steps = new Map<string, number[]>();
  const flowMs: number[] = [];
  for (const f of flows) {
    let total = 0;
    for (const [name, value] of Object.entries(f.steps)) {
      steps.set(name, [...(steps.get(name) ?? []), value]);
      total += value;
    }
    flowMs.push(total);
  }
  return { steps, flowMs };
}

/** The references' own worker, on their own task queue, paying the same payload encryption as varco's. */
async function startReferenceWorker(env: BenchEnv, taskQueue: string) {
  const { stack } = env;
  const floor = await registrationFloor(stack);
  const connection = await NativeConnection.connect({ address: env.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: stack.config.temporal.namespace,
      taskQueue,
      workflowsPath: path.join(here, 'referenceWorkflows.ts'),
      activities: { noop: async (arg: unknown) => arg, ...floor },
      dataConverter: dataConverter(stack.secrets.keyring),
    });
    const running = worker.run();
    return {
      stop: async () => {
        try {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
        } finally {
          await connection.close();
        }
      },
    };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

export async function registrationBench(env: BenchEnv, scale: number): Promise<BenchResult> {
  const { stack } = env;
  const captures = stack.captures;
  if (!captures) throw new Error('the registration bench reads codes from the SMS capture: unset TWILIO_* for it');
  // at least two chunks' worth of the highest concurrency, so that every lane stays busy
  const flows = Math.max(2 * Math.max(...CONCURRENCIES), Math.round(40 * scale));
  const warmup = 8;
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out('== registration: secure-channel registration over HTTP vs a bare Temporal workflow ==');
  out(`${flows} flows per concurrency, run in alternating chunks (varco, baseline, skeleton, floor, then the other way round):`);
  out('  varco     POST /api/registration, POST /channel (sms), read the code from the SMS capture, POST /otp: 200 registered');
  out(`  baseline  start an empty workflow, then ${BARE_UPDATES} Updates that return their argument (its own worker, same payload codec)`);
  out(`  skeleton  (reference only) varco's Temporal shape with nothing inside: start, then ${SKELETON_UPDATES} Updates that each await a no-op local activity`);
  out('  floor     (reference only) the skeleton whose local activities do what no registration can skip: store a code\'s keyed hash and text it;');
  out('            check it, hash a first-access password with argon2id, store it and text it (registrationFloor.ts); no HTTP, sessions, audit or machine');

  const referenceQueue = `bench-references-${randomUUID().slice(0, 8)}`;
  const referenceWorker = await startReferenceWorker(env, referenceQueue);
  try {
    const members = await provisionMembers(stack, warmup + flows * CONCURRENCIES.length);
    // Logging in is on the user's path but not part of the registration: timed on its own.
    const loginAll = (group: BenchMember[], concurrency: number) =>
      runConcurrent(group.length, concurrency, async (i) => {
        const member = group[i]!;
        const browser = new Browser(stack.url);
        const res = await browser.post('/api/session', { username: member.codiceFiscale, password: member.password });
        expectStatus(res, 200, 'login');
        return browser;
      });

    const varcoFlow = async (member: BenchMember, browser: Browser): Promise<Flow> => {
      const t0 = performance.now();
      const started = await browser.post('/api/registration');
      expectStatus(started, 201, 'POST /api/registration');
      const contact = (started.body.view.contacts as { id: string; kind: string }[]).find((c) => c.kind === 'mobile');
      if (!contact) throw new Error('no mobile among the offered contacts');
      const t1 = performance.now();
      const chosen = await browser.post('/api/registration/channel', { channel: 'sms', contactId: contact.id });
      expectStatus(chosen, 200, 'POST /api/registration/channel');
      const t2 = performance.now();
      const sms = await captures.waitFor(member.mobile, (m) => /\b\d{6}\b/.test(m.text));
      const code = /\b(\d{6})\b/.exec(sms.text)![1]!;
      const t3 = performance.now();
      const done = await browser.post('/api/registration/otp', { code });
      expectStatus(done, 200, 'POST /api/registration/otp');
      if (done.body.outcome !== 'registered') throw new Error(`otp: expected registered, got ${JSON.stringify(done.body).slice(0, 300)}`);
      const t4 = performance.now();
      return { steps: { start: t1 - t0, channel: t2 - t1, 'read sms': t3 - t2, otp: t4 - t3 }, workflowId: `registration-${member.id}` };
    };

    let flowCounter = 0;
    const event = () => ({ type: 'channel.choose', channel: 'sms', contactId: randomUUID() });
    const update = async (handle: { executeUpdate: (name: string, options: { args: unknown[] }) => Promise<unknown> }) => {
      const sent = event();
      const answer = await handle.executeUpdate('step', { args: [sent] });
      if ((answer as { contactId?: string }).contactId !== sent.contactId) throw new Error('baseline update: wrong answer');
    };

    /** Starts a workflow of the baselines' worker and times its start and each of its Updates. */
    const timedFlow = (workflowType: string, updates: number, stepName: (u: number) => string) => async (): Promise<Flow> => {
      const workflowId = `bench-${workflowType}-${referenceQueue}-${flowCounter++}`;
      const steps: Steps = {};
      let t = performance.now();
      const handle = await stack.client.workflow.start(workflowType, { taskQueue: referenceQueue, workflowId, args: [updates] });
      steps.start = performance.now() - t;
      for (let u = 1; u <= updates; u++) {
        t = performance.now();
        await update(handle);
        steps[stepName(u)] = performance.now() - t;
      }
      return { steps, workflowId };
    };
    const bareFlow = timedFlow('bareWorkflow', BARE_UPDATES, (u) => `update ${u}`);
    const skeletonFlow = timedFlow('skeletonWorkflow', SKELETON_UPDATES, (u) => `update ${u} (local activity)`);

    const floorFlow = async (): Promise<Flow> => {
      const n = flowCounter++;
      const workflowId = `bench-floorWorkflow-${referenceQueue}-${n}`;
      const to = `+39377${String(n).padStart(7, '0')}`;
      const t0 = performance.now();
      const handle = await stack.client.workflow.start('floorWorkflow', { taskQueue: referenceQueue, workflowId });
      const t1 = performance.now();
      await handle.executeUpdate('step', { args: [{ workflowId, to } satisfies FloorStep] });
      const t2 = performance.now();
      const sms = await captures.waitFor(to, (m) => /\b\d{6}\b/.test(m.text));
      const code = /\b(\d{6})\b/.exec(sms.text)![1]!;
      const t3 = performance.now();
      await handle.executeUpdate('step', { args: [{ workflowId, to, code } satisfies FloorStep] });
      const t4 = performance.now();
      return { steps: { start: t1 - t0, 'send code': t2 - t1, 'read sms': t3 - t2, register: t4 - t3 }, workflowId };
    };

    // Warm up: the workers' first workflow tasks create their sandboxes and JIT the machine;
    // a couple of flows alone first, so the first concurrent ones do not meet a cold worker.
    const warmMembers = members.slice(0, warmup);
    const warmBrowsers = (await loginAll(warmMembers, 4)).results;
    const warmFlow = (i: number) => varcoFlow(warmMembers[i]!, warmBrowsers[i]!);
    await runConcurrent(2, 1, warmFlow);
    await runConcurrent(warmup - 2, 4, warmFlow, { first: 2 });
    await runConcurrent(2, 1, bareFlow);
    await runConcurrent(warmup, 4, bareFlow);
    await runConcurrent(2, 1, skeletonFlow);
    await runConcurrent(warmup, 4, skeletonFlow);
    await runConcurrent(2, 1, floorFlow);
    await runConcurrent(warmup, 4, floorFlow);

    const results: { concurrency: number; login: number[]; varco: Run<Flow>; bare: Run<Flow>; skeleton: Run<Flow>; floor: Run<Flow> }[] = [];
    for (const [k, concurrency] of CONCURRENCIES.entries()) {
      const group = members.slice(warmup + k * flows, warmup + (k + 1) * flows);
      const logins = await loginAll(group, concurrency);
      const [varco, bare, skeleton, floor] = await interleaved<Flow>(
        flows,
        concurrency,
        [(i) => varcoFlow(group[i]!, logins.results[i]!), bareFlow, skeletonFlow, floorFlow],
        { attributed: env.attributed },
      );
      results.push({ concurrency, login: logins.latencies, varco: varco!, bare: bare!, skeleton: skeleton!, floor: floor! });
    }

    // What the pieces inside the activities cost on their own.
    const hasher = new PasswordHasher(stack.config.argon2);
    const hashRun = await runConcurrent(5, 1, () => hasher.hash(`Bench#${randomUUID()}`));
    const sms = () => stack.transports.sendSms({ to: '+393330000000', text: 'bench' });
    await sms();
    const smsRun = await runConcurrent(10, 1, sms);

    out();
    out(
      table([
        ['concurrency', 'varco flows/s', 'baseline flows/s', 'ratio', `goal >= ${REGISTRATION_GOAL}`, 'CPU-cost ratio', 'skeleton flows/s', 'floor flows/s', 'floor ratio', 'floor CPU-cost ratio'],
        ...results.map((r) => {
          const ratio = r.varco.rate / r.bare.rate;
          return [
            r.concurrency,
            fmt(r.varco.rate, 2),
            fmt(r.bare.rate, 2),
            fmt(ratio, 2),
            verdict(ratio, REGISTRATION_GOAL),
            fmt(perFlow(r.bare, attributedMs(r.bare.cpu))! / perFlow(r.varco, attributedMs(r.varco.cpu))!, 2),
            fmt(r.skeleton.rate, 2),
            fmt(r.floor.rate, 2),
            fmt(r.floor.rate / r.bare.rate, 2),
            fmt(perFlow(r.bare, attributedMs(r.bare.cpu))! / perFlow(r.floor, attributedMs(r.floor.cpu))!, 2),
          ];
        }),
      ]),
    );
    out('(CPU-cost ratio = baseline ÷ varco CPU per flow, counting this process, Postgres and the Temporal server: the ratio a saturated, otherwise idle machine would show)');
    const warning = noiseWarning(results.flatMap((r) => [r.varco.cpu, r.bare.cpu, r.skeleton.cpu, r.floor.cpu]));
    if (warning) out(warning);

    out();
    out('per step and per flow, ms (login happens before the flow and is not part of its time):');
    const stepRows: (string | number)[][] = [['concurrency', 'who', 'step', 'p50', 'p99', 'mean']];
    for (const r of results) {
      stepRows.push([r.concurrency, 'varco', 'login', fmt(percentile(r.login, 50)), fmt(percentile(r.login, 99)), fmt(mean(r.login))]);
      for (const [who, run] of [['varco', r.varco], ['baseline', r.bare], ['skeleton', r.skeleton], ['floor', r.floor]] as const) {
        const { steps, flowMs } = stepsOf(run.results);
        for (const [step, values] of steps) stepRows.push([r.concurrency, who, step, fmt(percentile(values, 50)), fmt(percentile(values, 99)), fmt(mean(values))]);
        stepRows.push([r.concurrency, who, 'whole flow', fmt(percentile(flowMs, 50)), fmt(percentile(flowMs, 99)), fmt(mean(flowMs))]);
      }
    }
    out(table(stepRows));

    // What the Temporal server recorded, and where the CPU went.
    out();
    out('where the time goes: workflow histories (means per flow) and CPU ms per flow (process = API, worker and bench client; pg = Postgres backends; temporal = the dev server):');
    const histRows: (string | number)[][] = [
      ['concurrency', 'who', 'events', 'wf tasks', 'wf task queue ms', 'wf task run ms', 'activities', 'SA upserts', 'update ms', 'cpu process', 'cpu pg', 'cpu temporal', 'other cores busy'],
    ];
    const activityRows: (string | number)[][] = [['concurrency', 'who', 'activity', 'count', 'queue ms (scheduled→started)', 'run ms (started→completed)']];
    for (const r of results) {
      for (const [who, run] of [['varco', r.varco], ['baseline', r.bare], ['skeleton', r.skeleton], ['floor', r.floor]] as const) {
        const h = await summarizeHistories(stack.client, run.results.map((f) => f.workflowId));
        histRows.push([
          r.concurrency,
          who,
          fmt(h.eventsPerFlow),
          fmt(h.workflowTasksPerFlow),
          fmt(h.wftQueueMs, 2),
          fmt(h.wftRunMs, 2),
          fmt(h.activitiesPerFlow),
          fmt(h.searchAttributeUpsertsPerFlow),
          fmt(h.updateMs, 1),
          fmt(perFlow(run, run.cpu.processMs), 1),
          fmt(perFlow(run, run.cpu.postgresMs), 1),
          fmt(perFlow(run, run.cpu.temporalMs), 1),
          fmt(foreignCores(run.cpu), 2),
        ]);
        for (const [name, a] of h.activities) activityRows.push([r.concurrency, who, name, a.count, fmt(a.queueMs, 2), fmt(a.runMs, 2)]);
      }
    }
    out(table(histRows));
    out('(wf task queue = scheduled→started, run = started→completed; update ms = Update accepted→completed, as the server recorded them)');
    out();
    out(table(activityRows));
    out(`inside the activities, at concurrency 1: one argon2id hash (registerSecureChannel makes one for the new first-access password) ${fmt(mean(hashRun.latencies), 1)} ms;`);
    out(`  one SMS through the Twilio client to the capture (each of the two activities sends one) ${fmt(mean(smsRun.latencies), 1)} ms`);
    out();
    return { ratios: results.map((r) => ({ concurrency: r.concurrency, ratio: r.varco.rate / r.bare.rate, floor: r.floor.rate / r.bare.rate })) };
  } finally {
    await withTimeout(referenceWorker.stop(), CLEANUP_TIMEOUT_MS, 'stopping the reference worker').catch((error: unknown) => process.stderr.write(`bench: ${String(error)}\n`));
  }
}
