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

/** Sends every Twilio request to baseUrl instead of api.twilio.com: the client and its protocol stay Twilio's. */
class RedirectedRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super();
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
  const mailer = nodemailer.createTransport(targets.smtpUrl);
  const { accountSid, authToken, from, baseUrl } = targets.twilio;
  const sms = twilio(accountSid, authToken, {
    httpClient: baseUrl ? new RedirectedRequestClient(baseUrl) : undefined,
    autoRetry: true,
    maxRetries: 2,
  });
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
