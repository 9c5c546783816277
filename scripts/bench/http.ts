import type { Reply } from '../../tests/support/http.js';

/** The web client of the tests: cookies, CSRF token, a request timeout. */
export { Browser, REQUEST_TIMEOUT_MS, type Reply } from '../../tests/support/http.js';

/** Throws with the answer when the status is not the expected one: a bench of failures measures nothing. */
export function expectStatus(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
}
