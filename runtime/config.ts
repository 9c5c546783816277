import path from 'node:path';
import { z } from 'zod';

/** "90d", "5m", "30s", "250ms" → milliseconds. Every duration of the seeds is configurable this way. */
function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`durata non valida: "${text}" (esempi: 250ms, 30s, 5m, 24h, 90d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}

const duration = (fallback: string) => z.string().default(fallback).transform(parseDuration);
const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optional = z.string().min(1).optional();

const schema = z.object({
  VARCO_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).default(3000),
  DATA_DIR: z.string().default('.data'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  PUBLIC_URL: optional,

  TEMPORAL_ADDRESS: optional,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('varco'),
  TEMPORAL_API_KEY: optional,
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_PORT: z.coerce.number().int().default(7233),
  TEMPORAL_UI_PORT: z.coerce.number().int().default(8233),

  DATABASE_URL: optional,
  SMTP_URL: optional,
  MAIL_FROM: z.string().default('Area Riservata <noreply@varco.local>'),
  TWILIO_ACCOUNT_SID: optional,
  TWILIO_AUTH_TOKEN: optional,
  TWILIO_FROM: optional,
  TWILIO_BASE_URL: optional,

  PAYLOAD_KEYS: optional,
  SECRET_KEY: optional,
  ADMIN_TOKEN: optional,
  CODEC_TOKEN: optional,

  ARGON2_MEMORY_KIB: int(19_456),
  ARGON2_TIME_COST: int(2),
  ARGON2_PARALLELISM: int(1),
  PASSWORD_MAX_AGE: duration('90d'),
  PASSWORD_EXPIRY_NOTICE: duration('7d'),
  LOGIN_LOCK_AFTER: int(5),
  LOGIN_LOCK_FOR: duration('15m'),
  LOGIN_DELAY_BASE: duration('250ms'),
  LOGIN_DELAY_MAX: duration('4s'),
  LOGIN_IP_MAX_FAILURES: int(20),
  LOGIN_IP_WINDOW: duration('10m'),
  SESSION_IDLE: duration('30m'),
  SESSION_MAX: duration('12h'),

  OTP_TTL: duration('5m'),
  OTP_MAX_ATTEMPTS: int(5),
  REGISTRATION_IDLE: duration('24h'),
  REGISTRATION_LOCKOUT: duration('1h'),
  OTP_REQUESTS_PER_HOUR: int(10),
  PIN_REQUESTS_PER_HOUR: int(5),
  // the relay leaves a message its first minute: a shorter life would leave nothing to retry
  OUTBOX_KEEP: duration('24h').refine((ms) => ms >= 3_600_000, 'almeno 1h'),
  TRUST_PROXY: z.string().default('loopback'),
});

export type Env = z.input<typeof schema>;

export interface Config {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  dataDir: string;
  logLevel: string;
  publicUrl?: string;
  temporal: {
    address?: string;
    namespace: string;
    taskQueue: string;
    apiKey?: string;
    tls: boolean;
    devPort: number;
    devUiPort: number;
  };
  databaseUrl?: string;
  mail: { smtpUrl?: string; from: string };
  twilio: { accountSid?: string; authToken?: string; from?: string; baseUrl?: string };
  secrets: { payloadKeys?: string; secretKey?: string; adminToken?: string; codecToken?: string };
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  password: { maxAgeMs: number; expiryNoticeMs: number };
  login: {
    lockAfter: number;
    lockForMs: number;
    delayBaseMs: number;
    delayMaxMs: number;
    ipMaxFailures: number;
    ipWindowMs: number;
  };
  session: { idleMs: number; maxMs: number };
  pinRequestsPerHour: number;
  /** how long a message is retried and its sealed text kept */
  outboxKeepMs: number;
  trustProxy: string;
  registration: { otpTtlMs: number; otpMaxAttempts: number; idleMs: number; lockoutMs: number; otpRequestsPerHour: number };
}

/** Reads the environment once; every part of varco receives the result instead of reading process.env. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`configurazione non valida:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    env: e.VARCO_ENV,
    host: e.HOST,
    port: e.PORT,
    dataDir: path.resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    publicUrl: e.PUBLIC_URL,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: e.TEMPORAL_TLS ? e.TEMPORAL_TLS === 'true' : Boolean(e.TEMPORAL_API_KEY),
      devPort: e.TEMPORAL_PORT,
      devUiPort: e.TEMPORAL_UI_PORT,
    },
    databaseUrl: e.DATABASE_URL,
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    twilio: { accountSid: e.TWILIO_ACCOUNT_SID, authToken: e.TWILIO_AUTH_TOKEN, from: e.TWILIO_FROM, baseUrl: e.TWILIO_BASE_URL },
    secrets: {
      payloadKeys: e.PAYLOAD_KEYS,
      secretKey: e.SECRET_KEY,
      adminToken: e.ADMIN_TOKEN,
      codecToken: e.CODEC_TOKEN,
    },
    argon2: { memoryCost: e.ARGON2_MEMORY_KIB, timeCost: e.ARGON2_TIME_COST, parallelism: e.ARGON2_PARALLELISM },
    password: { maxAgeMs: e.PASSWORD_MAX_AGE, expiryNoticeMs: e.PASSWORD_EXPIRY_NOTICE },
    login: {
      lockAfter: e.LOGIN_LOCK_AFTER,
      lockForMs: e.LOGIN_LOCK_FOR,
      delayBaseMs: e.LOGIN_DELAY_BASE,
      delayMaxMs: e.LOGIN_DELAY_MAX,
      ipMaxFailures: e.LOGIN_IP_MAX_FAILURES,
      ipWindowMs: e.LOGIN_IP_WINDOW,
    },
    session: { idleMs: e.SESSION_IDLE, maxMs: e.SESSION_MAX },
    pinRequestsPerHour: e.PIN_REQUESTS_PER_HOUR,
    outboxKeepMs: e.OUTBOX_KEEP,
    trustProxy: e.TRUST_PROXY,
    registration: {
      otpTtlMs: e.OTP_TTL,
      otpMaxAttempts: e.OTP_MAX_ATTEMPTS,
      idleMs: e.REGISTRATION_IDLE,
      lockoutMs: e.REGISTRATION_LOCKOUT,
      otpRequestsPerHour: e.OTP_REQUESTS_PER_HOUR,
    },
  };
}
