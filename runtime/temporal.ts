import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { EncryptionCodec } from './codec.js';
import type { Keyring } from './keyring.js';

export const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI_VERSION = 'v1.5.1';
const SEARCH_ATTRIBUTES = { CodiceFiscale: 'Keyword', ProcessState: 'Keyword' } as const;
/**
 * Every task written to one partition of its queue. With the default four, a task written to a
 * partition none of our single worker's pollers is waiting on sits there for about 2 s. Reads
 * stay at four, so tasks an older data folder left in the other partitions are still delivered.
 */
const DEV_DYNAMIC_CONFIG = { 'matching.numTaskqueueWritePartitions': 1 } as const;

/**
 * `temporal` from PATH; otherwise the copy built once into .tools/bin. Later tags of the CLI
 * cannot be `go install`ed, hence the pinned version.
 */
function temporalBinary(logger?: Logger): string {
  const onPath = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const toolsBin = path.join(projectRoot, '.tools', 'bin');
  const local = path.join(toolsBin, 'temporal');
  if (fs.existsSync(local)) return local;
  logger?.info(`compilazione della Temporal CLI ${CLI_VERSION} in ${toolsBin} (solo la prima volta)`);
  const built = spawnSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${CLI_VERSION}`], {
    env: { ...process.env, GOBIN: toolsBin },
    stdio: 'inherit',
  });
  if (built.status !== 0 || !fs.existsSync(local)) throw new Error('impossibile compilare la Temporal CLI: serve Go sul PATH');
  return local;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  port: number;
  uiPort?: number;
  httpPort: number;
  metricsPort: number;
  /** SQLite file: without it the server forgets everything when it stops */
  dbFile?: string;
  codecEndpoint?: string;
  logger?: Logger;
}

/**
 * Runs `temporal server start-dev` as a child that dies with us: it is started through a
 * shell that waits on our stdin pipe and kills the server when the pipe closes, so even a
 * SIGKILL of this process leaves no orphan behind.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    '--http-port', String(options.httpPort),
    '--metrics-port', String(options.metricsPort),
    '--log-level', 'warn',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...Object.entries(DEV_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    ...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.codecEndpoint ? ['--ui-codec-endpoint', options.codecEndpoint] : []),
  ];
  if (options.dbFile) fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
  const binary = temporalBinary(options.logger);
  // A background job's stdin is /dev/null in sh, so the pipe is kept on fd 3 for the watcher.
  const watchdog = 'exec 3<&0; "$@" & child=$!; (cat <&3 >/dev/null; kill $child 2>/dev/null) & trap "kill $child 2>/dev/null; wait $child; exit 0" TERM INT; wait $child';
  const child: ChildProcess = spawn('sh', ['-c', watchdog, 'temporal-watchdog', binary, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`il server Temporal si è fermato: ${stderr}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`il server Temporal non risponde su ${address}: ${stderr}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    stop: async () => {
      child.stdin?.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Pre-built workflow bundles must be built with it (bundleWorkflowCode's failureConverterPath). */
export const FAILURE_CONVERTER_PATH = path.join(projectRoot, 'runtime', 'failureConverter.ts');

export function dataConverter(keyring: Keyring): DataConverter {
  return {
    payloadCodecs: [new EncryptionCodec(keyring)],
    // A module path, because the workflow sandbox loads it too.
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}

export async function connectClient(config: Config, address: string, keyring: Keyring): Promise<Client> {
  const connection = await Connection.connect({
    address,
    tls: config.temporal.tls ? {} : undefined,
    apiKey: config.temporal.apiKey,
  });
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(keyring) });
}
