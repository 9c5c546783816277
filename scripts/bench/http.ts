import { randomBytes } from 'node:crypto';
import http from 'node:http';

/** An answer this late means something is broken (a worker that died, say). */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface Reply {
  status: number;
  body: any;
}

/**
 * The load generator shares the two cores with the service, so it is node:http with
 * keep-alive, the lightest client at hand: what it spends is not varco's.
 */
export function postJson(
  agent: http.Agent,
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; setCookies: string[] }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(payload);
    const req = http.request(
      url,
      { method: 'POST', agent, timeout: REQUEST_TIMEOUT_MS, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, setCookies: res.headers['set-cookie'] ?? [] }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const shared = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * A user's browser as the bench needs it, on the light client above: the session cookie, the
 * CSRF token the login gave back, and an address of its own (sent as X-Forwarded-For, which
 * the API trusts from loopback) so that per-address limits count users, not the bench.
 */
export class Browser {
  private readonly cookies = new Map<string, string>();
  private csrfToken?: string;
  private readonly clientAddress = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::1`;

  constructor(private readonly baseUrl: string) {}

  async post(path: string, payload: unknown = {}, headers: Record<string, string> = {}): Promise<Reply> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await postJson(shared, this.baseUrl + path, payload, {
      ...(cookie ? { cookie } : {}),
      ...(this.csrfToken ? { 'x-csrf-token': this.csrfToken } : {}),
      'x-forwarded-for': this.clientAddress,
      ...headers,
    });
    for (const line of res.setCookies) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || eq === pair.length - 1) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    let body: any = res.body;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      // not JSON (a proxy's error page, say): expectStatus shows it as it came
    }
    if (body?.csrfToken) this.csrfToken = body.csrfToken;
    return { status: res.status, body };
  }
}

/** Throws with the answer when the status is not the expected one: a bench of failures measures nothing. */
export function expectStatus(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
}
