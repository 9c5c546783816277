import type pg from 'pg';
import type { Keyring } from '../runtime/keyring.js';
import type { Transports } from '../runtime/transports.js';
import { withSignature, type Message } from './templates.js';

export type Channel = 'email' | 'sms';

export interface Notification {
  /** the same key is the same message: a retry delivers nothing new */
  key: string;
  subjectId: string | null;
  channel: Channel;
  to: string;
  message: Message;
}

/**
 * Messages go out through the outbox: first recorded (sealed, under an idempotency key) in
 * the same transaction as the change they announce, then delivered. A retried activity finds
 * the row and delivers it only if it is still pending. Delivery is at least once: a crash
 * between the provider's acceptance and the commit sends again on retry (e-mails keep the
 * same Message-ID, so mail systems can drop the duplicate).
 */
export class Outbox {
  constructor(
    private readonly pool: pg.Pool,
    private readonly keyring: Keyring,
    private readonly transports: Transports,
  ) {}

  /** Returns false when a message with this key already exists. */
  async enqueue(db: pg.Pool | pg.PoolClient, n: Notification): Promise<boolean> {
    const message = withSignature(n.message, n.channel);
    const inserted = await db.query(
      `insert into outbox (idempotency_key, subject_id, channel, recipient, subject_line, sealed_body)
       values ($1, $2, $3, $4, $5, $6) on conflict (idempotency_key) do nothing`,
      [n.key, n.subjectId, n.channel, n.to, message.subject, this.keyring.sealText(message.text, n.key)],
    );
    return inserted.rowCount === 1;
  }

  /** Sends the message recorded under key unless it already went out. */
  async deliver(key: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      // The row lock makes two concurrent deliveries of one key send once.
      const { rows } = await client.query<{ id: string; channel: Channel; recipient: string; subject_line: string | null; sealed_body: string; status: string }>(
        'select id, channel, recipient, subject_line, sealed_body, status from outbox where idempotency_key = $1 for update',
        [key],
      );
      const row = rows[0];
      if (!row) throw new Error(`outbox: nessun messaggio con chiave ${key}`);
      if (row.status === 'sent') {
        await client.query('commit');
        return;
      }
      const text = this.keyring.openText(row.sealed_body, key);
      const providerId =
        row.channel === 'email'
          ? await this.transports.sendEmail({ to: row.recipient, subject: row.subject_line ?? '', text, messageId: `<${row.id}.${encodeURIComponent(key)}@varco>` })
          : await this.transports.sendSms({ to: row.recipient, text });
      await client.query(`update outbox set status = 'sent', sent_at = now(), provider_id = $2 where id = $1`, [row.id, providerId]);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
