import { loadConfig } from '../runtime/config.js';
import { openDatabase } from '../runtime/database.js';
import { createLogger } from '../runtime/logger.js';
import { startStack } from '../runtime/stack.js';

/**
 * `npm run worker`: a Temporal worker alone, for running more workers than API instances.
 * It shares everything with the API, so everything must be named: the cluster, the database
 * (an embedded one belongs to the process that opened it) and the mail and SMS providers (local
 * captures would keep its messages from the API's dev outbox).
 */
const config = loadConfig();
const missing = Object.entries({
  TEMPORAL_ADDRESS: config.temporal.address,
  DATABASE_URL: config.databaseUrl,
  SMTP_URL: config.mail.smtpUrl,
  TWILIO_ACCOUNT_SID: config.twilio.accountSid,
  TWILIO_AUTH_TOKEN: config.twilio.authToken,
  TWILIO_FROM: config.twilio.from,
}).flatMap(([name, value]) => (value ? [] : [name]));
if (missing.length) {
  process.stderr.write(`npm run worker condivide tutto con l'API: mancano ${missing.join(', ')}\n`);
  process.exit(2);
}
const logger = createLogger(config.logLevel);
const database = await openDatabase(config, logger);
const stack = await startStack({ config, logger, temporalAddress: config.temporal.address!, databaseUrl: database.url, api: false });
process.stdout.write(`worker in ascolto sulla coda ${config.temporal.taskQueue}\n`);

const shutdown = async () => {
  await stack.stop();
  await database.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
