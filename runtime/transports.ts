import nodemailer from 'nodemailer';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';

type RequestOptions<T> = RequestClient.RequestOptions<T>;
import type { Config } from './config.js';

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  /** stable across retries, so the relay and the mailbox can spot a duplicate */
  messageId: string;
}

export interface OutgoingSms {
  to: string;
  text: string;
}

export interface Transports {
  sendEmail(message: OutgoingEmail): Promise<string>;
  sendSms(message: OutgoingSms): Promise<string>;
  close(): void;
}

export interface TransportTargets {
  smtpUrl: string;
  twilio: { accountSid: string; authToken: string; from: string; baseUrl?: string };
}

/**
 * What one provider request may take. The outbox takes a claim over after a minute
 * (CLAIM_STALE_MS): a send must have ended by then, or a second attempt sends the message again.
 * Twilio's client tries up to three times (10 s each, and backs off at most 3 s between).
 */
const PROVIDER_TIMEOUT_MS = 10_000;
const TWILIO_OPTIONS = { timeout: PROVIDER_TIMEOUT_MS, autoRetry: true, maxRetries: 2 };

/** Sends every Twilio request to baseUrl instead of api.twilio.com: the client and its protocol stay Twilio's. */
class RedirectedRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super(TWILIO_OPTIONS);
  }

  override request<TData>(opts: RequestOptions<TData>) {
    const uri = new URL(opts.uri);
    const base = new URL(this.baseUrl);
    uri.protocol = base.protocol;
    uri.host = base.host;
    return super.request<TData>({ ...opts, uri: uri.href });
  }
}

export function createTransports(config: Config, targets: TransportTargets): Transports {
  const mailer = nodemailer.createTransport({
    url: targets.smtpUrl,
    connectionTimeout: PROVIDER_TIMEOUT_MS,
    greetingTimeout: PROVIDER_TIMEOUT_MS,
    socketTimeout: PROVIDER_TIMEOUT_MS,
  });
  const { accountSid, authToken, from, baseUrl } = targets.twilio;
  // Options go to the request client itself: Twilio ignores them when given one.
  const sms = twilio(accountSid, authToken, { httpClient: baseUrl ? new RedirectedRequestClient(baseUrl) : new twilio.RequestClient(TWILIO_OPTIONS) });
  return {
    async sendEmail(message) {
      const info = await mailer.sendMail({
        from: config.mail.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        messageId: message.messageId,
      });
      return info.messageId;
    },
    async sendSms(message) {
      const sent = await sms.messages.create(
        from.startsWith('MG') ? { to: message.to, body: message.text, messagingServiceSid: from } : { to: message.to, body: message.text, from },
      );
      return sent.sid;
    },
    close: () => mailer.close(),
  };
}
