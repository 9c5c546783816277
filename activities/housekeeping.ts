import { transaction, type ActivityDeps } from './deps.js';

export interface Purged {
  sessions: number;
  rateLimits: number;
  loginThrottles: number;
  codes: number;
  messages: number;
  undelivered: number;
}

/** Counters of hourly budgets and login windows: a day past its start, no window is still open. */
const RATE_LIMIT_FLOOR_MS = 86_400_000;
/** A code's row only makes a retried send idempotent, which takes minutes: a day is ample. */
const CODE_KEEP_MS = 86_400_000;

/**
 * Everything past its use, in one statement. Ended sessions; counters whose window closed;
 * failure counts the login would forget anyway; the hashes of old codes; and the outbox's
 * messages once OUTBOX_KEEP has passed, with the codes, PINs and passwords sealed in them. A
 * message the relay never managed to deliver is given up then, and audited, so the back
 * office can tell the subject. The audit log itself is never purged.
 */
const PURGE = `
  with sessions_gone as (
    delete from sessions
    where last_seen_at <= now() - make_interval(secs => $1::double precision / 1000) or created_at <= now() - make_interval(secs => $2::double precision / 1000)
    returning 1
  ),
  limits_gone as (delete from rate_limits where window_start <= now() - make_interval(secs => $3::double precision / 1000) returning 1),
  throttles_gone as (
    delete from login_throttle
    where coalesce(locked_until <= now(), true) and last_failure_at <= now() - make_interval(secs => $4::double precision / 1000)
    returning 1
  ),
  codes_gone as (delete from one_time_codes where created_at <= now() - make_interval(secs => $5::double precision / 1000) returning 1),
  messages_gone as (
    delete from outbox where created_at <= now() - make_interval(secs => $6::double precision / 1000)
    returning subject_id, channel, idempotency_key, status, redeliver
  ),
  given_up as (
    insert into audit_events (subject_id, event, details)
    select subject_id, 'message_undelivered', jsonb_build_object('channel', channel, 'key', idempotency_key)
    from messages_gone where status <> 'sent' and redeliver
    returning 1
  )
  select (select count(*) from sessions_gone)::int as sessions, (select count(*) from limits_gone)::int as "rateLimits",
         (select count(*) from throttles_gone)::int as "loginThrottles", (select count(*) from codes_gone)::int as codes,
         (select count(*) from messages_gone)::int as messages, (select count(*) from given_up)::int as undelivered`;

export function housekeepingActivities({ config, pool }: ActivityDeps) {
  return {
    async purgeExpired(): Promise<Purged> {
      return transaction(pool, async (client) => {
        // Ends before the activity's own timeout: a retry never runs beside a purge still going.
        await client.query(`set local statement_timeout = '4min'`);
        const { rows } = await client.query<Purged>(PURGE, [
          config.session.idleMs,
          config.session.maxMs,
          Math.max(RATE_LIMIT_FLOOR_MS, config.login.ipWindowMs),
          config.login.lockForMs,
          CODE_KEEP_MS,
          config.outboxKeepMs,
        ]);
        return rows[0]!;
      });
    },
  };
}
