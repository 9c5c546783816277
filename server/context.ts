import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Outbox } from '../activities/outbox.js';
import type { PasswordHasher } from '../activities/credentials.js';
import type { Config } from '../runtime/config.js';
import type { Captures } from '../runtime/captures.js';
import type { Secrets } from '../runtime/secrets.js';

/** What every route may use; built once by the stack and handed to each router. */
export interface AppContext {
  config: Config;
  pool: pg.Pool;
  secrets: Secrets;
  temporal: Client;
  hasher: PasswordHasher;
  outbox: Outbox;
  logger: Logger;
  /** present only while the local captures stand in for SMTP and Twilio */
  captures?: Captures;
}
