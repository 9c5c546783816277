import { audit } from './audit.js';
import { transaction, type ActivityDeps } from './deps.js';
import { templates } from './templates.js';

export interface ExpiringPassword {
  subjectId: string;
  changedAt: string;
}

const italianDate = new Intl.DateTimeFormat('it-IT', { timeZone: 'Europe/Rome', day: '2-digit', month: '2-digit', year: 'numeric' });

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
           and exists (select 1 from contacts k where k.subject_id = c.subject_id)
         order by c.changed_at
         limit 1000`,
        [maxAgeMs, expiryNoticeMs],
      );
      return rows;
    },

    /** One message per password to a certified contact first, e-mail before PEC before SMS: the notice row is the guard. */
    async sendPasswordExpiryNotice({ subjectId, changedAt }: ExpiringPassword): Promise<void> {
      const key = `password-expiry/${subjectId}/${changedAt}`;
      const expiresOn = italianDate.format(new Date(Date.parse(changedAt) + maxAgeMs));
      const queued = await transaction(pool, async (client) => {
        const { rows } = await client.query<{ kind: 'email' | 'pec' | 'mobile'; value: string }>(
          `select kind, value from contacts where subject_id = $1
           order by certified desc, (kind = 'mobile'), (kind = 'pec'), created_at limit 1`,
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
      if (queued) await outbox.deliver(key);
    },
  };
}
