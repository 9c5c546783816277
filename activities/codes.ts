import { randomInt } from 'node:crypto';
import type { Secrets } from '../runtime/secrets.js';

/** 6 digits from the CSPRNG, zero-padded: every code from 000000 to 999999 equally likely. */
export function generateCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/**
 * The keyed hash under which a code travels and is compared. Bound to the subject, so a
 * hash seen for one subject says nothing about another's. The API computes the same hash
 * from what the user typed: the plain code never reaches a workflow.
 */
export function codeHash(secrets: Secrets, subjectId: string, code: string): string {
  return secrets.mac('one-time-code', `${subjectId}:${code.trim()}`);
}
