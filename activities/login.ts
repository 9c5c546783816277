import type pg from 'pg';
import { afterFailure, type ThrottlePolicy } from '../machines/rules/loginThrottle.js';
import type { AccountState } from '../machines/rules/requiredActions.js';
import { audit } from './audit.js';
import type { PasswordHasher } from './credentials.js';
import { addressKey, countHitSql } from './rateLimit.js';
import { sessionId, newSessionToken } from './sessions.js';
import { DISPLAY_NAME, type Subject } from './subjects.js';

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
  attempt: number;
  lockedFor: number;
  addressAttempts: number;
  addressRetryAfter: number;
}

/**
 * Counts one more attempt on an account's counter, unless it is locked (then it only reports
 * for how long). keySql is a query giving the counter's key; forgetAfterMs, the placeholder of
 * how old a last failure may be before the count starts again (the lock's length: a few typos
 * months apart must not lock an account).
 */
const reserveAttempt = (keySql: string, forgetAfterMs: string) => `
    insert into login_throttle (key, failures, last_failure_at) select key, 1, now() from (${keySql}) as k (key)
    on conflict (key) do update set
      failures = case
        when login_throttle.locked_until > now() then login_throttle.failures
        when login_throttle.last_failure_at <= now() - make_interval(secs => ${forgetAfterMs}::double precision / 1000) then 1
        else login_throttle.failures + 1 end,
      last_failure_at = now()
    returning failures as attempt, greatest(coalesce(ceil(extract(epoch from (locked_until - now())))::int, 0), 0) as "lockedFor"`;

/**
 * One round trip before the password is checked: the subject the username names, its hash
 * and account state, and the attempt reserved on both counters (the account's and the
 * address's). Reserving before verifying is what makes the limits hold against logins sent
 * in parallel: each one already counts while argon2 runs. A success gives the attempt back.
 * The account counter is keyed by the account, or by the typed username when no account has
 * it, so an unknown username slows down and locks exactly like a known one.
 */
const RESERVE = `
  with typed as (select trim($1::text) as username),
  subject as (
    select s.id, s.kind, s.codice_fiscale, s.matricola, s.username,
           ${DISPLAY_NAME} as display_name,
           c.hash, c.must_change, c.changed_at,
           exists (select 1 from secure_channels sc where sc.subject_id = s.id) as has_channel
    from subjects s left join credentials c on c.subject_id = s.id, typed
    where s.matricola = typed.username or s.codice_fiscale = upper(typed.username) or lower(s.username) = lower(typed.username)
    limit 1
  ),
  keyed as (
    select coalesce('subject:' || (select id from subject), 'unknown:' || upper(typed.username)) as key from typed
  ),
  attempt as (${reserveAttempt('select key from keyed', '$4')}),
  address as (${countHitSql('$2', '$3')})
  select subject.id, subject.kind, subject.codice_fiscale as "codiceFiscale", subject.matricola, subject.username,
         subject.display_name as "displayName", subject.hash, subject.must_change as "mustChange",
         subject.changed_at as "passwordChangedAt", coalesce(subject.has_channel, false) as "hasSecureChannel",
         keyed.key as "throttleKey", attempt.attempt, attempt."lockedFor",
         address.hits as "addressAttempts", address.retry_after as "addressRetryAfter"
  from keyed left join subject on true, attempt, address`;

/**
 * A refusal before any password check: both attempts given back, and the refusal audited, the
 * first of each minute per client address only: a flood of refused requests, which costs the
 * sender nothing, must not grow the audit log at its rate.
 */
const REFUSE = `
  with account as (update login_throttle set failures = greatest(failures - 1, 0) where key = $1 and not coalesce(locked_until > now(), false)),
  address as (update rate_limits set hits = greatest(hits - 1, 0) where bucket = $2),
  gate as (${countHitSql('$7', '60000')})
  insert into audit_events (subject_id, event, ip, request_id, details) select $3, 'login_failed', $4, $5, $6 from gate where gate.hits = 1`;

/**
 * A successful login in one statement: both attempts given back, the session opened and the
 * audit row written, unless a parallel failure locked the account meanwhile.
 */
const SUCCEED = `
  with released as (update rate_limits set hits = greatest(hits - 1, 0) where bucket = $7),
  cleared as (delete from login_throttle where key = $1 and (locked_until is null or locked_until <= now())),
  opened as (
    insert into sessions (id, subject_id, ip, user_agent)
    select $3, $2, $4, $6 where not exists (select 1 from login_throttle where key = $1 and locked_until > now())
    returning subject_id
  ),
  logged as (insert into audit_events (subject_id, event, ip, request_id, details) select subject_id, 'login', $4, $5, '{}' from opened)
  select count(*)::int as opened from opened`;

/**
 * For other checks of a known account's password (the current one, when changing it): the
 * attempt is reserved before argon2 runs, as at login, so parallel guesses cannot outrun the lock.
 */
export async function reserveAccountAttempt(
  db: pg.Pool,
  subjectId: string,
  forgetAfterMs: number,
): Promise<{ key: string; attempt: number; lockedFor: number }> {
  const key = `subject:${subjectId}`;
  const { rows } = await db.query<{ attempt: number; lockedFor: number }>(reserveAttempt('select $1::text', '$2'), [key, forgetAfterMs]);
  return { key, ...rows[0]! };
}

async function lock(db: pg.Pool, key: string, forMs: number): Promise<void> {
  await db.query(`update login_throttle set failures = 0, locked_until = now() + make_interval(secs => $2::double precision / 1000) where key = $1`, [key, forMs]);
}

export const lockSeconds = (policy: ThrottlePolicy) => Math.ceil(policy.lockForMs / 1000);

/**
 * A wrong password on a reserved attempt, at login or when changing it: audited, and the
 * account locked when the policy says so (audited too). Answers for how long it is locked, or
 * how long to hold the answer.
 */
export async function recordFailure(
  db: pg.Pool,
  policy: ThrottlePolicy,
  failure: { key: string; attempt: number; subjectId: string | null; ip: string; requestId: string; details: Record<string, unknown> },
): Promise<{ locked: true; retryAfter: number } | { locked: false; delayMs: number }> {
  const { key, attempt, details, ...entry } = failure;
  const { delayMs, lockForMs } = afterFailure(attempt, policy);
  await audit(db, { ...entry, event: 'login_failed', details });
  if (lockForMs === null) return { locked: false, delayMs };
  await lock(db, key, lockForMs);
  await audit(db, { ...entry, event: 'account_locked', details: { forSeconds: lockSeconds(policy) } });
  return { locked: true, retryAfter: lockSeconds(policy) };
}

export async function authenticate({ pool, hasher, policy, ip }: LoginDeps, attempt: LoginAttempt): Promise<LoginResult> {
  const address = addressKey(attempt.ip);
  const addressBucket = `login-failures:${address}`;
  const { rows } = await pool.query<LoginRow>(RESERVE, [attempt.username, addressBucket, ip.windowMs, policy.lockForMs]);
  const row = rows[0]!;
  // A refusal made before any password is checked is no guess: both reservations go back.
  const refuse = async (result: LoginResult & { ok: false }) => {
    const details = { refused: result.reason, ...(row.id ? {} : { unknownUsername: true }) };
    await pool.query(REFUSE, [row.throttleKey, addressBucket, row.id, attempt.ip, attempt.requestId, details, `login-refusals:${address}`]);
    return result;
  };
  if (row.lockedFor > 0) return refuse({ ok: false, reason: 'account_locked', retryAfter: row.lockedFor });
  if (row.addressAttempts > ip.maxFailures) return refuse({ ok: false, reason: 'too_many_requests', retryAfter: row.addressRetryAfter });
  // Attempts already in flight used up what the policy allows before a lock.
  if (row.attempt > policy.lockAfter) return refuse({ ok: false, reason: 'account_locked', retryAfter: lockSeconds(policy) });

  const context = { ip: attempt.ip, requestId: attempt.requestId };
  const valid = row.hash ? await hasher.verify(row.hash, attempt.password) : await hasher.verifyAgainstNothing(attempt.password);
  if (!valid || !row.id) {
    const failed = await recordFailure(pool, policy, {
      ...context, key: row.throttleKey, attempt: row.attempt, subjectId: row.id, details: row.id ? {} : { unknownUsername: true },
    });
    return failed.locked ? { ok: false, reason: 'account_locked', retryAfter: failed.retryAfter } : { ok: false, reason: 'invalid_credentials', delayMs: failed.delayMs };
  }

  if (hasher.needsRehash(row.hash!)) {
    // Only over the hash just verified: a password changed meanwhile stays changed.
    const rehashed = await pool.query('update credentials set hash = $2 where subject_id = $1 and hash = $3', [row.id, await hasher.hash(attempt.password), row.hash]);
    if (rehashed.rowCount) await audit(pool, { ...context, subjectId: row.id, event: 'password_rehashed' });
  }
  const token = newSessionToken();
  const opened = await pool.query<{ opened: number }>(SUCCEED, [
    row.throttleKey, row.id, sessionId(token), attempt.ip, attempt.requestId, attempt.userAgent?.slice(0, 300) ?? null, addressBucket,
  ]);
  if (opened.rows[0]!.opened === 0) return { ok: false, reason: 'account_locked', retryAfter: lockSeconds(policy) };
  return {
    ok: true,
    token,
    subject: { id: row.id, kind: row.kind!, codiceFiscale: row.codiceFiscale, matricola: row.matricola, username: row.username, displayName: row.displayName! },
    account: { mustChange: row.mustChange!, passwordChangedAt: row.passwordChangedAt!, hasSecureChannel: row.hasSecureChannel },
  };
}
