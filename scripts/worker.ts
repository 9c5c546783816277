import { loadConfig } from '../runtime/config.js';
import { openDatabase } from '../runtime/database.js';
import { createLogger } from '../runtime/logger.js';
import { startStack } from '../runtime/stack.js';

/**
 * `npm run worker`: a Temporal worker alone, for running more workers than API instances.
 * Needs TEMPORAL_ADDRESS; the rest of the configuration is npm start's.
 */
const config = loadConfig();
if (!config.temporal.address) throw new Error('npm run worker richiede TEMPORAL_ADDRESS');
const logger = createLogger(config.logLevel);
const database = await openDatabase(config, logger);
const stack = await startStack({ config, logger, temporalAddress: config.temporal.address, databaseUrl: database.url, api: false });
process.stdout.write(`worker in ascolto sulla coda ${config.temporal.taskQueue}\n`);

const shutdown = async () => {
  await stack.stop();
  await database.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
