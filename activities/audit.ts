import type pg from 'pg';

export type AuditEventName =
  | 'subject_provisioned'
  | 'login'
  | 'login_failed'
  | 'account_locked'
  | 'logout'
  | 'password_changed'
  | 'password_rehashed'
  | 'pin_generated'
  | 'pin_delivery_failed'
  | 'sessions_ended'
  | 'registration_started'
  | 'registration_step'
  | 'registration_code_sent'
  | 'secure_channel_registered'
  | 'first_access_password_issued'
  | 'password_expiry_notice_sent'
  | 'message_undelivered';

export interface AuditEntry {
  subjectId?: string | null;
  event: AuditEventName;
  ip?: string;
  requestId?: string;
  /** never a secret: ids, channels, counts */
  details?: Record<string, unknown>;
  /** set by activities: a retried activity writes its row once */
  key?: string;
}

/** Appends one row to the audit log; the table refuses updates and deletes. */
export async function audit(db: pg.Pool | pg.PoolClient, entry: AuditEntry): Promise<void> {
  await db.query(
    `insert into audit_events (subject_id, event, ip, request_id, details, key)
     values ($1, $2, $3, $4, $5, $6) on conflict (key) do nothing`,
    [entry.subjectId ?? null, entry.event, entry.ip ?? null, entry.requestId ?? null, entry.details ?? {}, entry.key ?? null],
  );
}
