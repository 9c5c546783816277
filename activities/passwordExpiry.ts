import { Context } from '@temporalio/activity';
import { audit } from './audit.js';
import { transaction, type ActivityDeps } from './deps.js';
import { templates } from './templates.js';

export interface ExpiringPassword {
  subjectId: string;
  changedAt: string;
}

const italianDate = new Intl.DateTimeFormat('it-IT', { timeZone: 'Europe/Rome', day: '2-digit', month: '2-digit', year: 'numeric' });

/**
 * Contacts a reminder may go to (`k`): a certified e-mail or PEC address, or the certified
 * mobile of an SMS secure channel. Never an uncertified contact: it may not be the subject's.
 */
const REMINDER_CONTACTS = `contacts k left join secure_channels sc on sc.contact_id = k.id
  where k.certified and (k.kind in ('email', 'pec') or sc.channel = 'sms')`;

export function passwordExpiryActivities({ config, pool, outbox }: ActivityDeps) {
  const { maxAgeMs, expiryNoticeMs } = config.password;
  return {
    /** Passwords that expire within the notice period and whose reminder has not gone out. */
    async findPasswordsExpiringSoon(): Promise<ExpiringPassword[]> {
      const { rows } = await pool.query<ExpiringPassword>(
        `select c.subject_id as "subjectId", to_char(c.changed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "changedAt"
         from credentials c
         where not c.must_change
           and c.changed_at + make_interval(secs => $1::double precision / 1000) between now() and now() + make_interval(secs => $2::double precision / 1000)
           and not exists (select 1 from password_expiry_notices n where n.subject_id = c.subject_id and n.password_changed_at = c.changed_at)
           and exists (select 1 from ${REMINDER_CONTACTS} and k.subject_id = c.subject_id)
         order by c.changed_at
         limit 1000`,
        [maxAgeMs, expiryNoticeMs],
      );
      return rows;
    },

    /**
     * One message per password, the notice row its guard: e-mail first (the secure channel's
     * address, then e-mail before PEC), else the SMS secure channel. A message the provider
     * refuses stays in the outbox for the relay, so it holds up neither the next subject nor the run.
     */
    async sendPasswordExpiryNotice({ subjectId, changedAt }: ExpiringPassword): Promise<void> {
      const key = `password-expiry/${subjectId}/${changedAt}`;
      const expiresOn = italianDate.format(new Date(Date.parse(changedAt) + maxAgeMs));
      const queued = await transaction(pool, async (client) => {
        const { rows } = await client.query<{ kind: 'email' | 'pec' | 'mobile'; value: string }>(
          `select k.kind, k.value from ${REMINDER_CONTACTS} and k.subject_id = $1
           order by (k.kind = 'mobile'), (sc.contact_id is null), (k.kind = 'pec'), k.created_at limit 1`,
          [subjectId],
        );
        const contact = rows[0];
        if (!contact) return false;
        const inserted = await client.query(
          'insert into password_expiry_notices (subject_id, password_changed_at) values ($1, $2) on conflict do nothing',
          [subjectId, changedAt],
        );
        if (inserted.rowCount) {
          const channel = contact.kind === 'mobile' ? 'sms' : 'email';
          await outbox.enqueue(client, { key, subjectId, channel, to: contact.value, message: templates.passwordExpiring(expiresOn) });
          await audit(client, { subjectId, event: 'password_expiry_notice_sent', key, details: { channel, expiresOn } });
        }
        return true;
      });
      // The worker's logger writes only the error's kind: the provider's message may quote the address.
      if (queued) {
        await outbox.deliver(key).catch((error: unknown) =>
          Context.current().log.warn('promemoria di scadenza password non consegnato: lo consegnerà il relay', { key, error }),
        );
      }
    },
  };
}
