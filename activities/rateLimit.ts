import type pg from 'pg';

export interface WindowCount {
  hits: number;
  /** seconds until the window starts again */
  retryAfter: number;
}

/**
 * Fixed-window counters in Postgres, so limits hold across restarts and across instances.
 * hit() counts one more and says how many there are.
 */
export async function hit(db: pg.Pool, bucket: string, windowMs: number): Promise<WindowCount> {
  const { rows } = await db.query<{ hits: number; retry_after: number }>(
    `insert into rate_limits (bucket, window_start, hits) values ($1, now(), 1)
     on conflict (bucket) do update set
       hits = case when rate_limits.window_start + make_interval(secs => $2::double precision / 1000) <= now() then 1 else rate_limits.hits + 1 end,
       window_start = case when rate_limits.window_start + make_interval(secs => $2::double precision / 1000) <= now() then now() else rate_limits.window_start end
     returning hits, ceil(extract(epoch from (window_start + make_interval(secs => $2::double precision / 1000) - now())))::int as retry_after`,
    [bucket, windowMs],
  );
  const row = rows[0]!;
  return { hits: row.hits, retryAfter: Math.max(1, row.retry_after) };
}
