import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { TransportTargets } from './transports.js';

export interface CapturedMessage {
  channel: 'email' | 'sms';
  to: string;
  subject: string | null;
  text: string;
  at: string;
}

/**
 * Stand-ins for the fund's SMTP relay and for Twilio, used when SMTP_URL or the Twilio
 * credentials are not configured. Both are real servers speaking the real protocol (SMTP;
 * Twilio's Messages REST API), so the product code that talks to them is the production code.
 */
export class Captures {
  private readonly messages: CapturedMessage[] = [];
  private readonly waiters = new Set<() => void>();

  add(message: CapturedMessage): void {
    this.messages.push(message);
    for (const wake of this.waiters) wake();
  }

  /** Newest first, like a mailbox. */
  list(to?: string): CapturedMessage[] {
    const normalized = to?.trim().toLowerCase();
    return this.messages.filter((m) => !normalized || m.to.toLowerCase() === normalized).reverse();
  }

  /** Resolves with the first message to `to` matching `test` (checked now and on every arrival). */
  waitFor(to: string, test: (m: CapturedMessage) => boolean = () => true, timeoutMs = 30_000): Promise<CapturedMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.list(to).find(test);
        if (!found) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`nessun messaggio per ${to} entro ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }
}

export interface CaptureServers {
  smtpUrl: string;
  twilioBaseUrl: string;
  twilioAccountSid: string;
  twilioAuthToken: string;
  stop(): Promise<void>;
}

/** varco's transports pointed at the captures, as a real relay and Twilio would be. */
export function captureTargets(servers: CaptureServers): TransportTargets {
  return {
    smtpUrl: servers.smtpUrl,
    twilio: { accountSid: servers.twilioAccountSid, authToken: servers.twilioAuthToken, from: 'CassaGeom', baseUrl: servers.twilioBaseUrl },
  };
}

export async function startCaptures(captures: Captures): Promise<CaptureServers> {
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const recipients = [mail.to].flat().flatMap((a) => a?.value ?? []).map((a) => a.address ?? '');
          for (const to of recipients) {
            captures.add({ channel: 'email', to, subject: mail.subject ?? null, text: (mail.text ?? '').trim(), at: new Date().toISOString() });
          }
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const smtpPort = (smtp.server.address() as { port: number }).port;

  const accountSid = `AC${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  const twilio = http.createServer((req, res) => handleTwilio(req, res, captures, accountSid, authToken));
  await new Promise<void>((resolve) => twilio.listen(0, '127.0.0.1', resolve));
  const twilioPort = (twilio.address() as { port: number }).port;

  return {
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    twilioBaseUrl: `http://127.0.0.1:${twilioPort}`,
    twilioAccountSid: accountSid,
    twilioAuthToken: authToken,
    stop: async () => {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      twilio.closeAllConnections();
      await new Promise<void>((resolve) => twilio.close(() => resolve()));
    },
  };
}

/** The one call of Twilio's API that varco makes: POST /2010-04-01/Accounts/{Sid}/Messages.json. */
function handleTwilio(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  captures: Captures,
  accountSid: string,
  authToken: string,
): void {
  const reply = (status: number, body: object) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  if (req.headers.authorization !== expectedAuth) {
    reply(401, { code: 20003, message: 'Authenticate', status: 401 });
    return;
  }
  if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${accountSid}/Messages.json`) {
    reply(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    return;
  }
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (raw += chunk));
  req.on('end', () => {
    const form = new URLSearchParams(raw);
    const to = form.get('To') ?? '';
    const body = form.get('Body') ?? '';
    const from = form.get('From') ?? form.get('MessagingServiceSid');
    if (!/^\+[1-9]\d{6,14}$/.test(to)) {
      reply(400, { code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, status: 400 });
      return;
    }
    if (!from || !body) {
      reply(400, { code: 21602, message: 'Message body and sender are required.', status: 400 });
      return;
    }
    const now = new Date();
    captures.add({ channel: 'sms', to, subject: null, text: body, at: now.toISOString() });
    reply(201, {
      sid: `SM${randomBytes(16).toString('hex')}`,
      account_sid: accountSid,
      to,
      from,
      body,
      status: 'queued',
      num_segments: String(Math.ceil(body.length / 153) || 1),
      direction: 'outbound-api',
      api_version: '2010-04-01',
      date_created: now.toUTCString(),
      date_updated: now.toUTCString(),
      uri: `/2010-04-01/Accounts/${accountSid}/Messages.json`,
    });
  });
}
