/**
 * Compares two strings in time that depends only on the first one's length. Pure JavaScript
 * because machines run inside Temporal's workflow sandbox, where node:crypto is not available.
 */
export function timingSafeEqualText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
