import { Context, ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { CONTACT_KINDS, type RegistrationInput, type RegistrationSettings, type SecureChannel as Channel, type SendCodeInput } from '../machines/registration.js';
import { codeHash, generateCode } from './codes.js';
import { generateFirstAccessPassword } from './credentials.js';
import type { ActivityDeps } from './deps.js';
import { findSubject, listContacts, maskContact } from './subjects.js';
import { templates } from './templates.js';

/** Keys of this run's side effects: a retried activity finds them and does nothing twice. */
function runKey(suffix: string): string {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('registration activities run inside a workflow');
  const { workflowId, runId } = execution;
  return `${workflowId}/${runId}/${suffix}`;
}

const contactNotUsable = () => ApplicationFailure.nonRetryable('il contatto scelto non può ricevere questo canale', 'ContactNotUsable');

/**
 * Issues a code in one statement: the one already issued under this key if there is one;
 * otherwise the new one, its message queued and the audit row, all or nothing. Nothing is
 * issued to a contact that is not the subject's own or cannot receive the channel.
 */
const ISSUE_CODE = `
  with contact as (select value from contacts where id = $3 and subject_id = $2 and kind = any($4::text[])),
  known as (select code_hash from one_time_codes where key = $1),
  issued as (
    insert into one_time_codes (key, subject_id, code_hash)
    select $1, $2, $5 from contact where not exists (select 1 from known)
    on conflict (key) do nothing
    returning code_hash
  ),
  queued as (
    -- not relayed later: a failed delivery is answered delivery_failed, and the user asks for a new code
    insert into outbox (idempotency_key, subject_id, channel, recipient, subject_line, sealed_body, redeliver)
    select $1, $2, $6, contact.value, $7, $8, false from issued, contact
    on conflict (idempotency_key) do nothing
  ),
  logged as (
    insert into audit_events (subject_id, event, details, key)
    select $2, 'registration_code_sent', $9::jsonb, $1 from issued
    on conflict (key) do nothing
  )
  select exists (select 1 from contact) as usable, coalesce((select code_hash from known), (select code_hash from issued)) as code_hash`;

/**
 * Registers the channel in one statement, gated on queuing the new password's message under
 * this run's key: a retry, or an attempt racing another, finds the key taken and changes
 * nothing. The password history keeps the hash being replaced (the statement reads the
 * credentials as they were before it).
 */
const REGISTER_CHANNEL = `
  with contact as (select value from contacts where id = $3 and subject_id = $1 and kind = any($4::text[])),
  queued as (
    insert into outbox (idempotency_key, subject_id, channel, recipient, subject_line, sealed_body)
    select $5, $1, $2, contact.value, $6, $7 from contact
    on conflict (idempotency_key) do nothing
    returning id
  ),
  channel as (
    insert into secure_channels (subject_id, channel, contact_id) select $1, $2, $3 from queued
    on conflict (subject_id) do update set channel = excluded.channel, contact_id = excluded.contact_id, registered_at = now()
  ),
  certified as (
    update contacts set certified = true, certified_at = coalesce(certified_at, now())
    where id = $3 and exists (select 1 from queued)
  ),
  retired as (
    insert into password_history (subject_id, hash)
    select subject_id, hash from credentials where subject_id = $1 and exists (select 1 from queued)
  ),
  password as (
    insert into credentials (subject_id, hash, changed_at, must_change) select $1, $8, now(), true from queued
    on conflict (subject_id) do update set hash = excluded.hash, changed_at = now(), must_change = true
  ),
  ended as (delete from sessions where subject_id = $1 and exists (select 1 from queued) returning id),
  logged as (
    insert into audit_events (subject_id, event, details, key)
    select $1, e.event, e.details, $5 || e.suffix from queued, (values
      ('secure_channel_registered', $9::jsonb, '/channel'),
      ('first_access_password_issued', jsonb_build_object('channel', $2::text), '/password'),
      ('sessions_ended', jsonb_build_object('sessions', (select count(*) from ended), 'reason', 'secure_channel_registered'), '/sessions')
    ) as e (event, details, suffix)
    on conflict (key) do nothing
  )
  select exists (select 1 from contact) as usable, exists (select 1 from queued) as registered`;

/** What a subject's registration starts with: ids and masked values only, never a whole address or number. */
export async function registrationInput(db: pg.Pool, subjectId: string, settings: RegistrationSettings): Promise<RegistrationInput> {
  const [subject, contacts] = await Promise.all([findSubject(db, subjectId), listContacts(db, subjectId)]);
  return {
    subjectId,
    codiceFiscale: subject?.codiceFiscale ?? null,
    contacts: contacts.map((c) => ({ id: c.id, kind: c.kind, masked: maskContact(c.kind, c.value) })),
    settings: { otpTtlMs: settings.otpTtlMs, otpMaxAttempts: settings.otpMaxAttempts, idleMs: settings.idleMs },
  };
}

export function registrationActivities({ pool, secrets, outbox, hasher }: ActivityDeps) {
  return {
    /** Sends the issue-th code of this registration, once, and returns its keyed hash. */
    async sendRegistrationCode(input: SendCodeInput): Promise<{ codeHash: string }> {
      const key = runKey(`code/${input.issue}`);
      const code = generateCode();
      const minutes = Math.max(1, Math.round(input.validForMs / 60_000));
      const { subjectLine, sealedBody } = outbox.seal({ key, channel: input.channel, message: templates.registrationCode(code, minutes) });
      const { rows } = await pool.query<{ usable: boolean; code_hash: string | null }>(ISSUE_CODE, [
        key, input.subjectId, input.contactId, CONTACT_KINDS[input.channel], codeHash(secrets, input.subjectId, code),
        input.channel, subjectLine, sealedBody, { channel: input.channel, contactId: input.contactId },
      ]);
      const { usable } = rows[0]!;
      // An attempt racing this one issued it: the statement waited for that one to commit.
      const hash = rows[0]!.code_hash ?? (await pool.query<{ code_hash: string }>('select code_hash from one_time_codes where key = $1', [key])).rows[0]?.code_hash;
      if (!hash && !usable) throw contactNotUsable();
      if (!hash) throw new Error(`codice ${key} non emesso: nuovo tentativo`);
      await outbox.deliver(key);
      return { codeHash: hash };
    },

    /**
     * The code was right: the channel is registered, the contact counts as certified (the
     * code proved it reaches the subject), a new first-access password replaces the old one
     * and goes out on that channel, and every session ends. A retry hashes a password it then
     * throws away: rare, and cheaper than a round trip before every registration.
     */
    async registerSecureChannel(input: { subjectId: string; channel: Channel; contactId: string }): Promise<void> {
      const key = runKey('registered');
      const password = generateFirstAccessPassword();
      const { subjectLine, sealedBody } = outbox.seal({ key, channel: input.channel, message: templates.firstAccessPassword(password) });
      const { rows } = await pool.query<{ usable: boolean; registered: boolean }>(REGISTER_CHANNEL, [
        input.subjectId, input.channel, input.contactId, CONTACT_KINDS[input.channel], key,
        subjectLine, sealedBody, await hasher.hash(password), { channel: input.channel, contactId: input.contactId },
      ]);
      const { usable, registered } = rows[0]!;
      // Not registered by this attempt: an earlier or racing one did it (its message is queued), or the contact cannot take it.
      const queued = async () => ((await pool.query('select 1 from outbox where idempotency_key = $1', [key])).rowCount ?? 0) > 0;
      if (!registered && !usable && !(await queued())) throw contactNotUsable();
      // Registered for good: a provider that fails now only delays the password, which the
      // outbox relay delivers once the provider takes it. The user is told it is on its way.
      await outbox.deliver(key).catch((error: unknown) =>
        Context.current().log.warn('password di primo accesso non consegnata: la consegna riprova', { key, error }),
      );
    },
  };
}
