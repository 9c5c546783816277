import { isIPv6 } from 'node:net';
import type pg from 'pg';

export interface WindowCount {
  hits: number;
  /** seconds until the window starts again */
  retryAfter: number;
}

/**
 * The statement that counts one more hit on a fixed window, for hit() and for statements that
 * count along with other work (login). bucket and windowMs are the SQL placeholders of the
 * bucket's name and the window's length in ms; it returns hits and retry_after (seconds, ≥ 1).
 */
export function countHitSql(bucket: string, windowMs: string): string {
  const windowEnd = `window_start + make_interval(secs => ${windowMs}::double precision / 1000)`;
  return `insert into rate_limits (bucket, window_start, hits) values (${bucket}, now(), 1)
    on conflict (bucket) do update set
      hits = case when rate_limits.${windowEnd} <= now() then 1 else rate_limits.hits + 1 end,
      window_start = case when rate_limits.${windowEnd} <= now() then now() else rate_limits.window_start end
    returning hits, greatest(ceil(extract(epoch from (${windowEnd} - now())))::int, 1) as retry_after`;
}

/**
 * Fixed-window counters in Postgres, so limits hold across restarts and across instances.
 * hit() counts one more and says how many there are.
 */
export async function hit(db: pg.Pool, bucket: string, windowMs: number): Promise<WindowCount> {
  const { rows } = await db.query<{ hits: number; retry_after: number }>(countHitSql('$1', '$2'), [bucket, windowMs]);
  const row = rows[0]!;
  return { hits: row.hits, retryAfter: row.retry_after };
}

/**
 * What per-address limits count of a client address. An IPv6 client usually holds a whole /64
 * and could take a new address for every attempt, so it counts as its /64. IPv4 counts per
 * address, and so does IPv4-mapped IPv6 (::ffff:a.b.c.d), as the IPv4 address it carries.
 */
export function addressKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  // The URL parser writes any IPv6 form canonically: hex groups only, at most one "::".
  const canonical = new URL(`http://[${ip.split('%')[0]}]`).hostname.slice(1, -1);
  const [head = [], tail] = canonical.split('::').map((part) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []));
  const groups = tail ? [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const [g6 = 0, g7 = 0] = groups.slice(6);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return [g6 >> 8, g6 & 255, g7 >> 8, g7 & 255].join('.');
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}
