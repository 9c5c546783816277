import path from 'node:path';
import { loadConfig } from '../runtime/config.js';
import { freePort, openDatabase } from '../runtime/database.js';
import { createLogger } from '../runtime/logger.js';
import { loadSecrets } from '../runtime/secrets.js';
import { startStack } from '../runtime/stack.js';
import { startDevServer, type DevServer } from '../runtime/temporal.js';

/**
 * `npm start`: the whole service on its embedded defaults — Temporal dev server (unless
 * TEMPORAL_ADDRESS), Postgres (DATABASE_URL, the local server, or PGlite), mail and SMS
 * captures (unless SMTP_URL and Twilio are set), the worker and the API.
 */
const config = loadConfig();
const logger = createLogger(config.logLevel);
const secrets = loadSecrets(config);
const publicUrl = config.publicUrl ?? `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;

let devServer: DevServer | undefined;
if (!config.temporal.address) {
  logger.info('avvio del server Temporal di sviluppo');
  devServer = await startDevServer({
    port: config.temporal.devPort,
    uiPort: config.temporal.devUiPort,
    httpPort: await freePort(),
    metricsPort: await freePort(),
    dbFile: path.join(config.dataDir, 'temporal.sqlite'),
    codecEndpoint: `${publicUrl}/codec/${secrets.codecToken}`,
    logger,
  });
}
const database = await openDatabase(config, logger);
const stack = await startStack({
  config,
  logger,
  temporalAddress: config.temporal.address ?? devServer!.address,
  databaseUrl: database.url,
});

const lines = [
  `varco è pronto`,
  `  API              ${stack.url}  (GET /healthz)`,
  `  Temporal         ${config.temporal.address ?? devServer!.address}${devServer ? ' (server di sviluppo, dati in ' + path.join(config.dataDir, 'temporal.sqlite') + ')' : ''}`,
  ...(devServer?.uiUrl ? [`  Temporal UI      ${devServer.uiUrl}`] : []),
  `  Postgres         ${database.origin}`,
  `  posta e SMS      ${stack.captures ? `catturati in locale: ${stack.url}/api/dev/outbox` : 'SMTP_URL e Twilio configurati'}`,
  ...(config.env === 'production' ? [] : [`  ADMIN_TOKEN      in ${path.join(config.dataDir, 'secrets.json')}`]),
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'arresto in corso');
  await stack.stop().catch((error) => logger.error({ err: error }, 'arresto dello stack'));
  await database.stop().catch(() => undefined);
  await devServer?.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
