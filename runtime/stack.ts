import type http from 'node:http';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Logger } from 'pino';
import { PasswordHasher } from '../activities/credentials.js';
import { Outbox } from '../activities/outbox.js';
import { migrate } from '../db/migrate.js';
import { createApp } from '../server/app.js';
import { captureTargets, Captures, startCaptures, type CaptureServers } from './captures.js';
import type { Config } from './config.js';
import { createPool } from './database.js';
import { ensureSchedules } from './schedules.js';
import { loadSecrets, type Secrets } from './secrets.js';
import { connectClient } from './temporal.js';
import { createTransports, type Transports, type TransportTargets } from './transports.js';
import { superviseWorker, type SupervisedWorker } from './worker.js';

export interface StackOptions {
  config: Config;
  logger: Logger;
  temporalAddress: string;
  databaseUrl: string;
  workflowBundlePath?: string;
  /** false runs the API alone (the worker runs elsewhere) */
  worker?: boolean;
  /** false runs the worker alone (npm run worker) */
  api?: boolean;
  /** false leaves the Schedules alone: test stacks sharing a database must not purge or relay each other's rows */
  schedules?: boolean;
}

export interface Stack {
  url: string;
  config: Config;
  pool: pg.Pool;
  secrets: Secrets;
  client: Client;
  /** the messages the API and the worker send */
  outbox: Outbox;
  /** the mail relay and Twilio (or their captures) the outbox delivers through */
  transports: Transports;
  captures?: Captures;
  captureServers?: CaptureServers;
  worker?: SupervisedWorker;
  stop(): Promise<void>;
}

/** Where mail and SMS go: the configured relay and Twilio, or local captures standing in for both. */
async function messaging(config: Config): Promise<{ targets: TransportTargets; captures?: Captures; servers?: CaptureServers }> {
  const { smtpUrl } = config.mail;
  const { accountSid, authToken, from, baseUrl } = config.twilio;
  const twilioConfigured = Boolean(accountSid && authToken && from);
  if (smtpUrl && twilioConfigured) {
    return { targets: { smtpUrl, twilio: { accountSid: accountSid!, authToken: authToken!, from: from!, baseUrl } } };
  }
  if (config.env === 'production') throw new Error('in produzione servono SMTP_URL e le credenziali Twilio');
  const captures = new Captures();
  const servers = await startCaptures(captures);
  const local = captureTargets(servers);
  return {
    captures,
    servers,
    targets: {
      smtpUrl: smtpUrl ?? local.smtpUrl,
      twilio: twilioConfigured ? { accountSid: accountSid!, authToken: authToken!, from: from!, baseUrl } : local.twilio,
    },
  };
}

/** Database, messaging, Temporal client, worker and API: everything but the Temporal server. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const { config, logger } = options;
  const pool = createPool(options.databaseUrl);
  await migrate(pool);
  const secrets = loadSecrets(config);
  const { targets, captures, servers } = await messaging(config);
  const transports = createTransports(config, targets);
  const hasher = new PasswordHasher(config.argon2);
  const outbox = new Outbox(pool, secrets.keyring, transports);
  const client = await connectClient(config, options.temporalAddress, secrets.keyring);

  let worker: SupervisedWorker | undefined;
  if (options.worker !== false) {
    worker = await superviseWorker({ address: options.temporalAddress, deps: { config, pool, secrets, outbox, hasher }, workflowBundlePath: options.workflowBundlePath }, logger);
    if (options.schedules !== false) await ensureSchedules(client, config);
  }

  let server: http.Server | undefined;
  if (options.api !== false) {
    const app = createApp({ config, pool, secrets, temporal: client, hasher, outbox, logger, captures });
    server = await new Promise((resolve) => {
      const s = app.listen(config.port, config.host, () => resolve(s));
    });
  }
  const port = (server?.address() as { port: number } | undefined)?.port ?? config.port;

  return {
    url: `http://${config.host}:${port}`,
    config,
    pool,
    secrets,
    client,
    outbox,
    transports,
    captures,
    captureServers: servers,
    worker,
    async stop() {
      if (server) {
        const closing = server;
        await new Promise<void>((resolve) => {
          closing.close(() => resolve());
          closing.closeIdleConnections();
        });
      }
      await worker?.stop();
      await client.connection.close();
      transports.close();
      await servers?.stop();
      await pool.end();
    },
  };
}
