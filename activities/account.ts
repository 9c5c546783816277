import { randomInt, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { checkPassword, type PasswordViolation } from '../machines/rules/passwordPolicy.js';
import type { ThrottlePolicy } from '../machines/rules/loginThrottle.js';
import { audit } from './audit.js';
import { isRecentlyUsed, setPassword, type PasswordHasher } from './credentials.js';
import { transaction } from './deps.js';
import { lockSeconds, recordFailure, reserveAccountAttempt } from './login.js';
import type { Outbox } from './outbox.js';
import { endSessions } from './sessions.js';
import { DISPLAY_NAME, listContacts, maskContact, masked, type ContactKind } from './subjects.js';
import { templates } from './templates.js';

export interface AccountDeps {
  pool: pg.Pool;
  hasher: PasswordHasher;
  outbox: Outbox;
  policy: ThrottlePolicy;
}

interface RequestContext {
  ip: string;
  requestId: string;
}

export type PasswordChangeResult =
  | { ok: true }
  | { ok: false; reason: 'current_password_invalid'; delayMs: number }
  | { ok: false; reason: 'account_locked'; retryAfter: number }
  | { ok: false; reason: 'password_policy'; violations: PasswordViolation[] };

/**
 * "Gestione account" → change password: the current one must be right (failures count like
 * login failures), the new one must meet every rule and differ from the last five; it starts
 * a new life and every other session of the subject ends.
 */
export async function changePassword(
  { pool, hasher, policy }: AccountDeps,
  subjectId: string,
  keepSessionId: string,
  input: { currentPassword: string; newPassword: string; confirmPassword: string },
  request: RequestContext,
): Promise<PasswordChangeResult> {
  const { rows } = await pool.query<{ hash: string; codice_fiscale: string | null; matricola: string | null; username: string | null }>(
    'select c.hash, s.codice_fiscale, s.matricola, s.username from credentials c join subjects s on s.id = c.subject_id where c.subject_id = $1',
    [subjectId],
  );
  const row = rows[0]!;
  const reserved = await reserveAccountAttempt(pool, subjectId, policy.lockForMs);
  if (reserved.lockedFor > 0) return { ok: false, reason: 'account_locked', retryAfter: reserved.lockedFor };
  if (reserved.attempt > policy.lockAfter) return { ok: false, reason: 'account_locked', retryAfter: lockSeconds(policy) };
  if (!(await hasher.verify(row.hash, input.currentPassword))) {
    const failed = await recordFailure(pool, policy, { ...request, key: reserved.key, attempt: reserved.attempt, subjectId, details: { during: 'password_change' } });
    if (!failed.locked) return { ok: false, reason: 'current_password_invalid', delayMs: failed.delayMs };
    // Guessing the password of an open session locks the account and ends the session too.
    await endSessions(pool, subjectId);
    return { ok: false, reason: 'account_locked', retryAfter: failed.retryAfter };
  }
  // The right password gives back the failures counted so far, as a login does (a running lock stays).
  await pool.query('update login_throttle set failures = 0 where key = $1 and not coalesce(locked_until > now(), false)', [reserved.key]);
  const identifiers = [row.codice_fiscale, row.matricola, row.username].filter((v): v is string => Boolean(v));
  const violations = checkPassword({ password: input.newPassword, confirm: input.confirmPassword, identifiers });
  if (await isRecentlyUsed(pool, hasher, subjectId, input.newPassword)) violations.push('recently_used');
  if (violations.length) return { ok: false, reason: 'password_policy', violations };

  const hash = await hasher.hash(input.newPassword);
  await transaction(pool, async (client) => {
    await setPassword(client, subjectId, hash, false);
    const ended = await endSessions(client, subjectId, keepSessionId);
    await audit(client, { ...request, subjectId, event: 'password_changed', details: { otherSessionsEnded: ended } });
  });
  return { ok: true };
}

export interface ChannelContact {
  channel: 'email' | 'sms';
  kind: ContactKind;
  value: string;
}

/** The subject's registered secure channel and the contact it goes to, if any. */
export async function secureChannelOf(pool: pg.Pool, subjectId: string): Promise<ChannelContact | undefined> {
  const { rows } = await pool.query<ChannelContact>(
    'select sc.channel, c.kind, c.value from secure_channels sc join contacts c on c.id = sc.contact_id where sc.subject_id = $1',
    [subjectId],
  );
  return rows[0];
}

export type PinResult = { ok: true; channel: 'email' | 'sms'; masked: string } | { ok: false; reason: 'delivery_failed' };

/**
 * A new PIN dispositivo: 8 digits from the CSPRNG, sent over the secure channel, and stored
 * hashed only once the provider has taken it: until then the previous PIN stays the valid one.
 * Of two requests in flight, the one issued last holds, whichever is delivered last.
 */
export async function generatePin({ pool, hasher, outbox }: AccountDeps, subjectId: string, channel: ChannelContact, request: RequestContext): Promise<PinResult> {
  const pin = String(randomInt(0, 100_000_000)).padStart(8, '0');
  const hash = await hasher.hash(pin);
  const key = `pin/${subjectId}/${randomUUID()}`;
  // Not relayed later: a failed delivery is answered 502 and the user asks for a new PIN.
  await outbox.enqueue(pool, { key, subjectId, channel: channel.channel, to: channel.value, message: templates.pin(pin), redeliver: false });
  try {
    await outbox.deliver(key);
  } catch {
    await audit(pool, { ...request, subjectId, event: 'pin_delivery_failed', details: { channel: channel.channel } });
    return { ok: false, reason: 'delivery_failed' };
  }
  await transaction(pool, async (client) => {
    await client.query(
      `insert into pins (subject_id, hash, created_at) select $1, $2, created_at from outbox where idempotency_key = $3
       on conflict (subject_id) do update set hash = excluded.hash, created_at = excluded.created_at where pins.created_at < excluded.created_at`,
      [subjectId, hash, key],
    );
    await audit(client, { ...request, subjectId, event: 'pin_generated', details: { channel: channel.channel } });
  });
  return { ok: true, channel: channel.channel, masked: maskContact(channel.kind, channel.value) };
}

/** GET /api/me: the profile with masked contacts, never a whole address or number. */
export async function profile(pool: pg.Pool, subjectId: string) {
  const { rows } = await pool.query<{
    id: string; kind: string; codice_fiscale: string | null; matricola: string | null; username: string | null; codice_aderente: string | null;
    display_name: string; channel: 'email' | 'sms' | null; channel_contact_id: string | null; registered_at: Date | null;
  }>(
    `select s.id, s.kind, s.codice_fiscale, s.matricola, s.username, s.codice_aderente,
            ${DISPLAY_NAME} as display_name,
            sc.channel, sc.contact_id as channel_contact_id, sc.registered_at
     from subjects s left join secure_channels sc on sc.subject_id = s.id where s.id = $1`,
    [subjectId],
  );
  const s = rows[0]!;
  const contacts = await listContacts(pool, subjectId);
  const channelContact = contacts.find((c) => c.id === s.channel_contact_id);
  return {
    subject: { id: s.id, kind: s.kind, displayName: s.display_name, codiceFiscale: s.codice_fiscale, matricola: s.matricola, username: s.username, codiceAderente: s.codice_aderente },
    contacts: contacts.map(masked),
    secureChannel:
      s.channel && channelContact
        ? { channel: s.channel, contactId: channelContact.id, masked: maskContact(channelContact.kind, channelContact.value), registeredAt: s.registered_at }
        : null,
  };
}
