import type pg from 'pg';
import type { Keyring } from '../runtime/keyring.js';
import type { Transports } from '../runtime/transports.js';
import { withSignature, type Message } from './templates.js';

export type Channel = 'email' | 'sms';

/**
 * A claim this old belongs to an attempt that died: another may deliver the message. Provider
 * calls time out well before it (runtime/transports.ts), so a live attempt never reaches it.
 */
export const CLAIM_STALE_MS = 60_000;

export interface Notification {
  /** the same key is the same message: a retry delivers nothing new */
  key: string;
  subjectId: string | null;
  channel: Channel;
  to: string;
  message: Message;
  /** false when the user is told a failed delivery and asks again: the relay leaves it */
  redeliver?: boolean;
}

/**
 * Messages go out through the outbox: first recorded (sealed, under an idempotency key) in
 * the same transaction as the change they announce, then delivered. A retried activity finds
 * the row and delivers it only if it is still pending. Delivery is at least once: a crash
 * between the provider's acceptance and the row marked sent sends again once the claim goes
 * stale (e-mails keep the same Message-ID, so mail systems can drop the duplicate).
 */
export class Outbox {
  constructor(
    private readonly pool: pg.Pool,
    private readonly keyring: Keyring,
    private readonly transports: Transports,
  ) {}

  /** Returns false when a message with this key already exists. */
  async enqueue(db: pg.Pool | pg.PoolClient, n: Notification): Promise<boolean> {
    const { subjectLine, sealedBody } = this.seal(n);
    const inserted = await db.query(
      `insert into outbox (idempotency_key, subject_id, channel, recipient, subject_line, sealed_body, redeliver)
       values ($1, $2, $3, $4, $5, $6, $7) on conflict (idempotency_key) do nothing`,
      [n.key, n.subjectId, n.channel, n.to, subjectLine, sealedBody, n.redeliver ?? true],
    );
    return inserted.rowCount === 1;
  }

  /** The columns of a message as the outbox stores it, for a statement that inserts the row itself. */
  seal(n: Pick<Notification, 'key' | 'channel' | 'message'>): { subjectLine: string; sealedBody: string } {
    const message = withSignature(n.message, n.channel);
    return { subjectLine: message.subject, sealedBody: this.keyring.sealText(message.text, n.key) };
  }

  /**
   * Keys of the messages the relay should deliver again: not sent, older than graceMs (the
   * attempt that recorded one is still delivering it), younger than keepMs (past it, the
   * message is given up: see activities/housekeeping.ts), and not claimed by a live attempt.
   */
  async undelivered(graceMs: number, keepMs: number, limit = 500): Promise<string[]> {
    const { rows } = await this.pool.query<{ idempotency_key: string }>(
      `select idempotency_key from outbox
       where status <> 'sent' and redeliver
         and created_at <= now() - make_interval(secs => $1::double precision / 1000)
         and created_at > now() - make_interval(secs => $4::double precision / 1000)
         and (status = 'pending' or claimed_at < now() - make_interval(secs => $3::double precision / 1000))
       order by id limit $2`,
      [graceMs, limit, CLAIM_STALE_MS, keepMs],
    );
    return rows.map((r) => r.idempotency_key);
  }

  /**
   * Sends the message recorded under key unless it already went out. The row is claimed, the
   * provider called outside any transaction (a slow relay holds no connection), then the row
   * is marked sent. While another attempt holds a fresh claim this one fails, to be retried.
   * The row is updated afterwards only under this attempt's own claim: an attempt whose claim
   * was taken over cannot hand the message back while the newer one sends it.
   */
  async deliver(key: string): Promise<void> {
    // The claim's time as text: a Date would drop its microseconds and never match again.
    const claimed = await this.pool.query<{ id: string; claim: string; channel: Channel; recipient: string; subject_line: string | null; sealed_body: string }>(
      `update outbox set status = 'sending', claimed_at = now()
       where idempotency_key = $1
         and (status = 'pending' or (status = 'sending' and claimed_at < now() - make_interval(secs => $2::double precision / 1000)))
       returning id, claimed_at::text as claim, channel, recipient, subject_line, sealed_body`,
      [key, CLAIM_STALE_MS],
    );
    const row = claimed.rows[0];
    if (!row) {
      const { rows } = await this.pool.query<{ status: string }>('select status from outbox where idempotency_key = $1', [key]);
      if (!rows[0]) throw new Error(`outbox: nessun messaggio con chiave ${key}`);
      if (rows[0].status === 'sent') return;
      throw new Error(`outbox: il messaggio ${key} è già in consegna`);
    }
    const text = this.keyring.openText(row.sealed_body, key);
    let providerId: string;
    try {
      providerId =
        row.channel === 'email'
          ? await this.transports.sendEmail({ to: row.recipient, subject: row.subject_line ?? '', text, messageId: `<${row.id}.${encodeURIComponent(key)}@varco>` })
          : await this.transports.sendSms({ to: row.recipient, text });
    } catch (error) {
      await this.pool.query(`update outbox set status = 'pending', claimed_at = null where id = $1 and claimed_at = $2::timestamptz`, [row.id, row.claim]);
      throw error;
    }
    await this.pool.query(`update outbox set status = 'sent', sent_at = now(), provider_id = $2 where id = $1 and claimed_at = $3::timestamptz`, [row.id, providerId, row.claim]);
  }
}
