import { Context, ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { audit } from './audit.js';
import { codeHash, generateCode } from './codes.js';
import { generateFirstAccessPassword, setPassword } from './credentials.js';
import { transaction, type ActivityDeps } from './deps.js';
import { endSessions } from './sessions.js';
import { templates } from './templates.js';

type Channel = 'email' | 'sms';

/** Keys of this run's side effects: a retried activity finds them and does nothing twice. */
function runKey(suffix: string): string {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('registration activities run inside a workflow');
  const { workflowId, runId } = execution;
  return `${workflowId}/${runId}/${suffix}`;
}

async function usableContact(db: pg.Pool | pg.PoolClient, subjectId: string, channel: Channel, contactId: string): Promise<string> {
  const { rows } = await db.query<{ kind: string; value: string }>('select kind, value from contacts where id = $1 and subject_id = $2', [contactId, subjectId]);
  const contact = rows[0];
  const fits = contact && (channel === 'sms' ? contact.kind === 'mobile' : contact.kind === 'email' || contact.kind === 'pec');
  if (!fits) throw ApplicationFailure.nonRetryable('il contatto scelto non può ricevere questo canale', 'ContactNotUsable');
  return contact.value;
}

export function registrationActivities({ config, pool, secrets, outbox, hasher }: ActivityDeps) {
  return {
    /** Sends the issue-th code of this registration, once, and returns its keyed hash. */
    async sendRegistrationCode(input: { subjectId: string; channel: Channel; contactId: string; issue: number }): Promise<{ codeHash: string }> {
      const key = runKey(`code/${input.issue}`);
      const to = await usableContact(pool, input.subjectId, input.channel, input.contactId);
      const hash = await transaction(pool, async (client) => {
        const known = await client.query<{ code_hash: string }>('select code_hash from one_time_codes where key = $1', [key]);
        if (known.rows[0]) return known.rows[0].code_hash;
        const code = generateCode();
        const fresh = codeHash(secrets, input.subjectId, code);
        await client.query('insert into one_time_codes (key, subject_id, code_hash) values ($1, $2, $3)', [key, input.subjectId, fresh]);
        const minutes = Math.max(1, Math.round(config.registration.otpTtlMs / 60_000));
        await outbox.enqueue(client, { key, subjectId: input.subjectId, channel: input.channel, to, message: templates.registrationCode(code, minutes) });
        await audit(client, { subjectId: input.subjectId, event: 'registration_code_sent', key, details: { channel: input.channel, contactId: input.contactId } });
        return fresh;
      });
      await outbox.deliver(key);
      return { codeHash: hash };
    },

    /**
     * The code was right: the channel is registered, the contact counts as certified (the
     * code proved it reaches the subject), a new first-access password replaces the old one
     * and goes out on that channel, and every session ends.
     */
    async registerSecureChannel(input: { subjectId: string; channel: Channel; contactId: string }): Promise<void> {
      const key = runKey('registered');
      const done = await pool.query('select 1 from outbox where idempotency_key = $1', [key]);
      if (done.rowCount) return outbox.deliver(key);
      const password = generateFirstAccessPassword();
      const hash = await hasher.hash(password);
      await transaction(pool, async (client) => {
        // Checked again under the transaction: two attempts racing still register once.
        await client.query('select pg_advisory_xact_lock(hashtext($1))', [key]);
        if ((await client.query('select 1 from outbox where idempotency_key = $1', [key])).rowCount) return;
        const to = await usableContact(client, input.subjectId, input.channel, input.contactId);
        await client.query(
          `insert into secure_channels (subject_id, channel, contact_id) values ($1, $2, $3)
           on conflict (subject_id) do update set channel = excluded.channel, contact_id = excluded.contact_id, registered_at = now()`,
          [input.subjectId, input.channel, input.contactId],
        );
        await client.query('update contacts set certified = true, certified_at = coalesce(certified_at, now()) where id = $1', [input.contactId]);
        await setPassword(client, input.subjectId, hash, true);
        const ended = await endSessions(client, input.subjectId);
        await outbox.enqueue(client, { key, subjectId: input.subjectId, channel: input.channel, to, message: templates.firstAccessPassword(password) });
        await audit(client, { subjectId: input.subjectId, event: 'secure_channel_registered', key: `${key}/channel`, details: { channel: input.channel, contactId: input.contactId } });
        await audit(client, { subjectId: input.subjectId, event: 'first_access_password_issued', key: `${key}/password`, details: { channel: input.channel } });
        await audit(client, { subjectId: input.subjectId, event: 'sessions_ended', key: `${key}/sessions`, details: { sessions: ended, reason: 'secure_channel_registered' } });
      });
      await outbox.deliver(key);
    },
  };
}
