import type pg from 'pg';
import { afterFailure, type ThrottlePolicy } from '../machines/rules/loginThrottle.js';
import type { AccountState } from '../machines/rules/requiredActions.js';
import { audit } from './audit.js';
import type { PasswordHasher } from './credentials.js';
import { hit } from './rateLimit.js';
import { sessionId, newSessionToken } from './sessions.js';
import type { Subject } from './subjects.js';

export interface LoginAttempt {
  username: string;
  password: string;
  ip: string;
  userAgent?: string;
  requestId: string;
}

export type LoginResult =
  | { ok: true; subject: Subject; token: string; account: AccountState }
  | { ok: false; reason: 'invalid_credentials'; delayMs: number }
  | { ok: false; reason: 'account_locked'; retryAfter: number }
  | { ok: false; reason: 'too_many_requests'; retryAfter: number };

export interface LoginDeps {
  pool: pg.Pool;
  hasher: PasswordHasher;
  policy: ThrottlePolicy;
  ip: { maxFailures: number; windowMs: number };
}

interface LoginRow {
  id: string | null;
  kind: Subject['kind'] | null;
  codiceFiscale: string | null;
  matricola: string | null;
  username: string | null;
  displayName: string | null;
  hash: string | null;
  mustChange: boolean | null;
  passwordChangedAt: Date | null;
  hasSecureChannel: boolean;
  throttleKey: string;
  lockedFor: number;
  ipFailures: number;
  ipRetryAfter: number;
}

/**
 * Everything a login needs to decide, in one round trip: the subject the username names,
 * its hash and account state, whether its counter is locked, and the failures of this address.
 * Failures are counted per account, or per typed username when no account has it, so an
 * unknown username slows down and locks exactly like a known one: the answers never tell
 * which usernames exist.
 */
const LOOKUP = `
  with typed as (select trim($1::text) as username),
  subject as (
    select s.id, s.kind, s.codice_fiscale, s.matricola, s.username,
           coalesce(s.company_name, trim(coalesce(s.first_name, '') || ' ' || coalesce(s.last_name, ''))) as display_name,
           c.hash, c.must_change, c.changed_at,
           exists (select 1 from secure_channels sc where sc.subject_id = s.id) as has_channel
    from subjects s left join credentials c on c.subject_id = s.id, typed
    where s.matricola = typed.username or s.codice_fiscale = upper(typed.username) or lower(s.username) = lower(typed.username)
    limit 1
  ),
  keyed as (
    select coalesce('subject:' || (select id from subject), 'unknown:' || upper(typed.username)) as key from typed
  )
  select subject.id, subject.kind, subject.codice_fiscale as "codiceFiscale", subject.matricola, subject.username,
         subject.display_name as "displayName", subject.hash, subject.must_change as "mustChange",
         subject.changed_at as "passwordChangedAt", coalesce(subject.has_channel, false) as "hasSecureChannel",
         keyed.key as "throttleKey",
         coalesce((select ceil(extract(epoch from (t.locked_until - now())))::int from login_throttle t
                   where t.key = keyed.key and t.locked_until > now()), 0) as "lockedFor",
         coalesce(r.hits, 0) as "ipFailures",
         coalesce(ceil(extract(epoch from (r.window_start + make_interval(secs => $3::double precision / 1000) - now())))::int, 0) as "ipRetryAfter"
  from keyed
  left join subject on true
  left join rate_limits r on r.bucket = $2 and r.window_start + make_interval(secs => $3::double precision / 1000) > now()`;

/** A successful login in one statement: the counter cleared, the session opened, the audit row written. */
const SUCCEED = `
  with cleared as (delete from login_throttle where key = $1),
  logged as (insert into audit_events (subject_id, event, ip, request_id, details) values ($2, 'login', $4, $5, '{}'))
  insert into sessions (id, subject_id, ip, user_agent) values ($3, $2, $4, $6)`;

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
  const { rows } = await pool.query<LoginRow>(LOOKUP, [attempt.username, ipBucket, ip.windowMs]);
  const row = rows[0]!;
  if (row.ipFailures >= ip.maxFailures) return { ok: false, reason: 'too_many_requests', retryAfter: Math.max(1, row.ipRetryAfter) };
  if (row.lockedFor > 0) return { ok: false, reason: 'account_locked', retryAfter: row.lockedFor };

  const context = { ip: attempt.ip, requestId: attempt.requestId };
  const valid = row.hash ? await hasher.verify(row.hash, attempt.password) : await hasher.verifyAgainstNothing(attempt.password);
  if (!valid || !row.id) {
    await hit(pool, ipBucket, ip.windowMs);
    const { delayMs, lockedForMs } = await recordFailure(pool, row.throttleKey, policy);
    await audit(pool, { ...context, subjectId: row.id, event: 'login_failed', details: row.id ? {} : { unknownUsername: true } });
    if (lockedForMs !== null) {
      await audit(pool, { ...context, subjectId: row.id, event: 'account_locked', details: { forSeconds: Math.ceil(lockedForMs / 1000) } });
      return { ok: false, reason: 'account_locked', retryAfter: Math.ceil(lockedForMs / 1000) };
    }
    return { ok: false, reason: 'invalid_credentials', delayMs };
  }

  if (hasher.needsRehash(row.hash!)) {
    await pool.query('update credentials set hash = $2 where subject_id = $1', [row.id, await hasher.hash(attempt.password)]);
    await audit(pool, { ...context, subjectId: row.id, event: 'password_rehashed' });
  }
  const token = newSessionToken();
  await pool.query(SUCCEED, [row.throttleKey, row.id, sessionId(token), attempt.ip, attempt.requestId, attempt.userAgent?.slice(0, 300) ?? null]);
  return {
    ok: true,
    token,
    subject: { id: row.id, kind: row.kind!, codiceFiscale: row.codiceFiscale, matricola: row.matricola, username: row.username, displayName: row.displayName! },
    account: { mustChange: row.mustChange!, passwordChangedAt: row.passwordChangedAt!, hasSecureChannel: row.hasSecureChannel },
  };
}
