import type pg from 'pg';
import { afterFailure, type ThrottlePolicy } from '../machines/rules/loginThrottle.js';
import { audit } from './audit.js';
import type { PasswordHasher } from './credentials.js';
import { hit, peek } from './rateLimit.js';
import { createSession } from './sessions.js';
import { findByUsername, type Subject } from './subjects.js';

export interface LoginAttempt {
  username: string;
  password: string;
  ip: string;
  userAgent?: string;
  requestId: string;
}

export type LoginResult =
  | { ok: true; subject: Subject; token: string }
  | { ok: false; reason: 'invalid_credentials'; delayMs: number }
  | { ok: false; reason: 'account_locked'; retryAfter: number }
  | { ok: false; reason: 'too_many_requests'; retryAfter: number };

export interface LoginDeps {
  pool: pg.Pool;
  hasher: PasswordHasher;
  policy: ThrottlePolicy;
  ip: { maxFailures: number; windowMs: number };
}

/**
 * Failures are counted per account, or per typed username when no account has it, so an
 * unknown username slows down and locks exactly like a known one: the answers never tell
 * which usernames exist.
 */
const throttleKey = (subject: Subject | undefined, username: string) => (subject ? `subject:${subject.id}` : `unknown:${username.trim().toUpperCase()}`);

async function lockedFor(db: pg.Pool, key: string): Promise<number> {
  const { rows } = await db.query<{ seconds: number }>(
    `select ceil(extract(epoch from (locked_until - now())))::int as seconds from login_throttle where key = $1 and locked_until > now()`,
    [key],
  );
  return rows[0]?.seconds ?? 0;
}

/** Counts one failure and applies the policy; returns the delay to hold the answer, or the lock. */
export async function recordFailure(db: pg.Pool, key: string, policy: ThrottlePolicy): Promise<{ delayMs: number; lockedForMs: number | null }> {
  const { rows } = await db.query<{ failures: number }>(
    `insert into login_throttle (key, failures, last_failure_at) values ($1, 1, now())
     on conflict (key) do update set failures = login_throttle.failures + 1, last_failure_at = now()
     returning failures`,
    [key],
  );
  const decision = afterFailure(rows[0]!.failures, policy);
  if (decision.lockForMs !== null) {
    await db.query(
      `update login_throttle set failures = 0, locked_until = now() + make_interval(secs => $2::double precision / 1000) where key = $1`,
      [key, decision.lockForMs],
    );
  }
  return { delayMs: decision.delayMs, lockedForMs: decision.lockForMs };
}

export async function authenticate({ pool, hasher, policy, ip }: LoginDeps, attempt: LoginAttempt): Promise<LoginResult> {
  const ipBucket = `login-failures:${attempt.ip}`;
  const fromIp = await peek(pool, ipBucket, ip.windowMs);
  if (fromIp.hits >= ip.maxFailures) return { ok: false, reason: 'too_many_requests', retryAfter: fromIp.retryAfter };

  const subject = await findByUsername(pool, attempt.username);
  const key = throttleKey(subject, attempt.username);
  const context = { ip: attempt.ip, requestId: attempt.requestId };
  const locked = await lockedFor(pool, key);
  if (locked > 0) return { ok: false, reason: 'account_locked', retryAfter: locked };

  const valid = subject?.hash ? await hasher.verify(subject.hash, attempt.password) : await hasher.verifyAgainstNothing(attempt.password);
  if (!valid || !subject) {
    await hit(pool, ipBucket, ip.windowMs);
    const { delayMs, lockedForMs } = await recordFailure(pool, key, policy);
    await audit(pool, { ...context, subjectId: subject?.id ?? null, event: 'login_failed', details: subject ? {} : { unknownUsername: true } });
    if (lockedForMs !== null) {
      await audit(pool, { ...context, subjectId: subject?.id ?? null, event: 'account_locked', details: { forSeconds: Math.ceil(lockedForMs / 1000) } });
      return { ok: false, reason: 'account_locked', retryAfter: Math.ceil(lockedForMs / 1000) };
    }
    return { ok: false, reason: 'invalid_credentials', delayMs };
  }

  await pool.query('delete from login_throttle where key = $1', [key]);
  if (hasher.needsRehash(subject.hash!)) {
    await pool.query('update credentials set hash = $2 where subject_id = $1', [subject.id, await hasher.hash(attempt.password)]);
    await audit(pool, { ...context, subjectId: subject.id, event: 'password_rehashed' });
  }
  const token = await createSession(pool, subject.id, attempt.ip, attempt.userAgent);
  await audit(pool, { ...context, subjectId: subject.id, event: 'login' });
  const { hash: _hash, ...publicSubject } = subject;
  return { ok: true, subject: publicSubject, token };
}
