import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../runtime/config.js';
import { freePort } from '../runtime/database.js';
import { loadSecrets } from '../runtime/secrets.js';
import { connectClient, projectRoot } from '../runtime/temporal.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'varco-start-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: projectRoot,
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Polls until check() holds: the condition, not a fixed sleep, ends the wait. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const healthy = (url: string) => () =>
  fetch(`${url}/healthz`).then(
    (res) => res.status === 200,
    () => false,
  );

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

describe('npm start', () => {
  it('reaches healthy from a clean data folder, leaves no orphan when killed, and keeps workflows across a restart', async () => {
    const ports = { PORT: String(await freePort()), TEMPORAL_PORT: String(await freePort()), TEMPORAL_UI_PORT: String(await freePort()) };
    const env = { ...ports, DATA_DIR: dataDir, DATABASE_URL: inject('databaseUrl'), TEMPORAL_TASK_QUEUE: 'varco-start-test' };
    const url = `http://127.0.0.1:${ports.PORT}`;

    const first = start(env);
    await until(healthy(url), 'the first start to be healthy');
    expect(first.output()).toContain('varco è pronto');
    expect(first.output()).toContain(`Temporal UI      http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`);
    expect(fs.existsSync(path.join(dataDir, 'temporal.sqlite'))).toBe(true);

    const config = loadConfig({ DATA_DIR: dataDir, TEMPORAL_TASK_QUEUE: 'varco-start-test' });
    const client = await connectClient(config, `127.0.0.1:${ports.TEMPORAL_PORT}`, loadSecrets(config).keyring);
    await client.workflow.execute('passwordExpiryReminders', { taskQueue: 'varco-start-test', workflowId: 'survives-restart' });
    await client.connection.close();

    // A SIGKILL gives the process no chance to clean up: the Temporal server must still go.
    first.child.kill('SIGKILL');
    await first.exited;
    await until(async () => !(await portOpen(Number(ports.TEMPORAL_PORT))), 'the orphaned Temporal server to stop', 30_000);

    const second = start(env);
    await until(healthy(url), 'the second start to be healthy');
    const again = await connectClient(config, `127.0.0.1:${ports.TEMPORAL_PORT}`, loadSecrets(config).keyring);
    const described = await again.workflow.getHandle('survives-restart').describe();
    expect(described.status.name).toBe('COMPLETED');
    await again.connection.close();

    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(await portOpen(Number(ports.TEMPORAL_PORT))).toBe(false);
    expect(await portOpen(Number(ports.PORT))).toBe(false);
  }, 240_000);
});

describe('npm run worker', () => {
  it('refuses to start, naming what is missing, unless the cluster, the database and the providers are set', async () => {
    const env: Record<string, string | undefined> = { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), DATA_DIR: dataDir };
    for (const name of ['DATABASE_URL', 'SMTP_URL', 'TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM']) delete env[name];
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/worker.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr?.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(output).toContain('mancano DATABASE_URL, SMTP_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM');
  });
});
