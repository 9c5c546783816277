import { randomBytes } from 'node:crypto';

export const REQUEST_TIMEOUT_MS = 30_000;

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A web client as a browser would be: it keeps cookies and sends the CSRF token the login
 * gave back on every state-changing request.
 */
export class Browser {
  private readonly cookies = new Map<string, string>();
  csrfToken?: string;

  /**
   * Each browser comes from an IPv6 /64 of its own (per-address limits count a /64; a
   * documentation range, sent only as X-Forwarded-For, which the API trusts from loopback), so
   * per-address limits of one test do not leak into another.
   */
  constructor(
    readonly baseUrl: string,
    readonly clientAddress = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::1`,
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(cookie ? { cookie } : {}),
        ...(this.csrfToken && method !== 'GET' ? { 'x-csrf-token': this.csrfToken } : {}),
        'x-forwarded-for': this.clientAddress,
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      // An answer this late means something is broken (a worker that died, say).
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (!value || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: the test sees the raw text
    }
    const reply = { status: res.status, body: parsed as T, headers: res.headers };
    const token = (parsed as { csrfToken?: string } | undefined)?.csrfToken;
    if (token) this.csrfToken = token;
    return reply;
  }

  get = <T = any>(path: string, headers?: Record<string, string>) => this.request<T>('GET', path, undefined, headers);
  post = <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => this.request<T>('POST', path, body ?? {}, headers);
  delete = <T = any>(path: string, headers?: Record<string, string>) => this.request<T>('DELETE', path, undefined, headers);

  hasCookie(name: string): boolean {
    return this.cookies.has(name);
  }
}
