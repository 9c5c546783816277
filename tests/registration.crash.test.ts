import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../runtime/temporal.js';
import { codeIn, otherCode, smsCodeSent } from './support/registration.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember } from './support/subjects.js';

let stack: TestStack;
const workers: ChildProcess[] = [];
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await stack?.stop();
});

/** `npm run worker` in its own process, sending mail and SMS to this test's captures. */
async function startWorker(): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  const servers = stack.captureServers!;
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/worker.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      VARCO_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATA_DIR: stack.config.dataDir,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      SMTP_URL: servers.smtpUrl,
      TWILIO_ACCOUNT_SID: servers.twilioAccountSid,
      TWILIO_AUTH_TOKEN: servers.twilioAuthToken,
      TWILIO_FROM: 'CassaGeom',
      TWILIO_BASE_URL: servers.twilioBaseUrl,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  workers.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('worker in ascolto') && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return { child, exited };
}

describe('a worker killed while a code is outstanding', () => {
  it('loses nothing: a new worker finishes the registration, and exactly one code and one password were sent', async () => {
    const first = await startWorker();
    const member = await provisionMember(stack);
    const { browser, code } = await smsCodeSent(stack, member);

    first.child.kill('SIGKILL');
    await first.exited;

    // With no worker alive the step waits in Temporal; it is answered once a worker is back.
    const wrongWhileDown = browser.post('/api/registration/otp', { code: otherCode(code) });
    await startWorker();
    const wrong = await wrongWhileDown;
    expect(wrong.status).toBe(422);
    expect(wrong.body.attemptsLeft).toBe(4);

    const right = await browser.post('/api/registration/otp', { code });
    expect(right.status).toBe(200);
    expect(right.body.outcome).toBe('registered');
    const passwordMessage = await stack.captures!.waitFor(member.mobile, (m) => m.text.includes('primo accesso'));

    const messages = stack.captures!.list(member.mobile);
    expect(messages.filter((m) => codeIn(m.text) && !m.text.includes('primo accesso'))).toHaveLength(1);
    expect(messages.filter((m) => m.text.includes('primo accesso'))).toEqual([passwordMessage]);
    const outbox = await stack.pool.query('select status, count(*)::int as n from outbox where subject_id = $1 group by status', [member.id]);
    expect(outbox.rows).toEqual([{ status: 'sent', n: 2 }]);
  }, 120_000);
});
