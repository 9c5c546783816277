import { randomInt } from 'node:crypto';
import { hash, hashSync, verify } from '@node-rs/argon2';
import type pg from 'pg';
import type { Config } from '../runtime/config.js';
import { PASSWORD_HISTORY_DEPTH } from '../machines/rules/passwordPolicy.js';

/**
 * argon2id through @node-rs/argon2: hashing runs on libuv's thread pool, off the event loop,
 * so concurrent logins use every core while the API keeps answering.
 */
export class PasswordHasher {
  private readonly options;
  /**
   * Hash of nothing anybody knows: an unknown username is verified against it, so it costs the
   * same time. Made here, once (one hash at start): made at the first unknown username, it
   * would cost that login a hash as well.
   */
  private readonly dummy: string;

  constructor(params: Config['argon2']) {
    // 2 is Algorithm.Argon2id: a const enum, which isolated modules cannot read.
    this.options = { algorithm: 2 as const, memoryCost: params.memoryCost, timeCost: params.timeCost, parallelism: params.parallelism };
    this.dummy = hashSync(`nessuno-${randomInt(1e9)}`, this.options);
  }

  hash(password: string): Promise<string> {
    return hash(password, this.options);
  }

  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  async verifyAgainstNothing(password: string): Promise<false> {
    await this.verify(this.dummy, password);
    return false;
  }

  /** A hash made with other parameters than today's is re-made at the next successful login. */
  needsRehash(stored: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
    if (!match) return true;
    const [, m, t, p] = match.map(Number);
    return m !== this.options.memoryCost || t !== this.options.timeCost || p !== this.options.parallelism;
  }
}

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const DIGITS = '23456789';
const SPECIAL = '#$%&*+-=?@_!';

/** A first-access password that meets every rule, without look-alike characters (0/O, 1/l). */
export function generateFirstAccessPassword(length = 12): string {
  const pick = (set: string) => set[randomInt(set.length)] as string;
  const all = UPPER + LOWER + DIGITS + SPECIAL;
  const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), pick(SPECIAL)];
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

/** True when password is the current one or one of the last PASSWORD_HISTORY_DEPTH - 1 before it. */
export async function isRecentlyUsed(db: pg.Pool | pg.PoolClient, hasher: PasswordHasher, subjectId: string, password: string): Promise<boolean> {
  const { rows } = await db.query<{ hash: string }>(
    `(select hash from credentials where subject_id = $1)
     union all
     (select hash from password_history where subject_id = $1 order by id desc limit $2)`,
    [subjectId, PASSWORD_HISTORY_DEPTH - 1],
  );
  const matches = await Promise.all(rows.map((r) => hasher.verify(r.hash, password)));
  return matches.some(Boolean);
}

/**
 * Replaces the subject's password: the old hash joins the history, the new one starts a new
 * life (changed_at = now). mustChange marks a first-access password.
 */
export async function setPassword(db: pg.Pool | pg.PoolClient, subjectId: string, newHash: string, mustChange: boolean): Promise<void> {
  await db.query(
    `insert into password_history (subject_id, hash)
     select subject_id, hash from credentials where subject_id = $1`,
    [subjectId],
  );
  await db.query(
    `insert into credentials (subject_id, hash, changed_at, must_change) values ($1, $2, now(), $3)
     on conflict (subject_id) do update set hash = excluded.hash, changed_at = now(), must_change = excluded.must_change`,
    [subjectId, newHash, mustChange],
  );
}
