import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

/** The cookie carries the token; the table keeps only its hash. */
export const sessionId = (token: string) => createHash('sha256').update(token).digest('base64url');

/** 256 bits from the CSPRNG, for the session cookie. */
export const newSessionToken = () => randomBytes(32).toString('base64url');

/** Ends every session of the subject but keep (the one making the request, when it stays). */
export async function endSessions(db: pg.Pool | pg.PoolClient, subjectId: string, keep?: string): Promise<number> {
  const result = await db.query('delete from sessions where subject_id = $1 and id is distinct from $2', [subjectId, keep ?? null]);
  return result.rowCount ?? 0;
}
