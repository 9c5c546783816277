-- Registry, credentials and everything the login path touches.

create table subjects (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('member', 'beneficiary', 'company', 'adherent')),
  codice_fiscale text unique check (codice_fiscale = upper(codice_fiscale)),
  matricola text unique,
  username text,
  codice_aderente text unique,
  first_name text,
  last_name text,
  company_name text,
  vat_number text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((kind = 'company') = (username is not null))
);
create unique index subjects_username_key on subjects (lower(username));

create table contacts (
  id uuid primary key default gen_random_uuid(),
  subject_id uuid not null references subjects (id) on delete cascade,
  kind text not null check (kind in ('email', 'pec', 'mobile')),
  value text not null,
  certified boolean not null default false,
  certified_at timestamptz,
  created_at timestamptz not null default now(),
  unique (subject_id, kind, value)
);

create table credentials (
  subject_id uuid primary key references subjects (id) on delete cascade,
  hash text not null,
  changed_at timestamptz not null default now(),
  must_change boolean not null default true
);

-- The hashes of earlier passwords, for "not one of the last N".
create table password_history (
  id bigserial primary key,
  subject_id uuid not null references subjects (id) on delete cascade,
  hash text not null,
  created_at timestamptz not null default now()
);
create index password_history_subject on password_history (subject_id, id desc);

-- Failed logins by account (or by the unknown username typed), so that the answer for an
-- unknown user slows and locks exactly like the answer for a known one.
create table login_throttle (
  key text primary key,
  failures integer not null default 0,
  last_failure_at timestamptz,
  locked_until timestamptz
);

-- Fixed-window counters: failed logins per client address, OTP requests per subject, …
create table rate_limits (
  bucket text primary key,
  window_start timestamptz not null,
  hits integer not null
);

create table secure_channels (
  subject_id uuid primary key references subjects (id) on delete cascade,
  channel text not null check (channel in ('email', 'sms')),
  contact_id uuid not null references contacts (id),
  registered_at timestamptz not null default now()
);

create table pins (
  subject_id uuid primary key references subjects (id) on delete cascade,
  hash text not null,
  created_at timestamptz not null default now()
);

create table sessions (
  id text primary key, -- sha256 of the cookie's token: a database leak gives no session away
  subject_id uuid not null references subjects (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  ip text,
  user_agent text
);
create index sessions_subject on sessions (subject_id);

create table audit_events (
  id bigserial primary key,
  at timestamptz not null default now(),
  subject_id uuid,
  event text not null,
  ip text,
  request_id text,
  details jsonb not null default '{}'
);
create index audit_events_subject on audit_events (subject_id, at);

create function audit_events_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_events is append-only';
end;
$$;
create trigger audit_events_no_update before update or delete on audit_events
  for each row execute function audit_events_append_only();

create table documents (
  id uuid primary key default gen_random_uuid(),
  subject_id uuid references subjects (id) on delete cascade,
  content_type text not null check (content_type in ('application/pdf', 'image/jpeg', 'image/png')),
  bytes bytea not null,
  sha256 text not null,
  size integer not null,
  created_at timestamptz not null default now(),
  retain_until timestamptz
);

-- Every message varco sends, recorded once: the idempotency key makes a retried activity a no-op.
-- The body is sealed because it may carry a code or a password.
create table outbox (
  id bigserial primary key,
  idempotency_key text not null unique,
  subject_id uuid references subjects (id) on delete set null,
  channel text not null check (channel in ('email', 'sms')),
  recipient text not null,
  subject_line text,
  sealed_body text not null,
  status text not null default 'pending' check (status in ('pending', 'sent')),
  provider_id text,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);

-- Audit rows written by a Temporal activity carry a key, so a retried activity writes once.
alter table audit_events add column key text unique;

-- The keyed hash of every one-time code sent, so a retried "send code" returns the code it sent.
create table one_time_codes (
  key text primary key,
  subject_id uuid not null references subjects (id) on delete cascade,
  code_hash text not null,
  created_at timestamptz not null default now()
);

-- One reminder per password: the key is the password's changed_at.
create table password_expiry_notices (
  subject_id uuid not null references subjects (id) on delete cascade,
  password_changed_at timestamptz not null,
  sent_at timestamptz not null default now(),
  primary key (subject_id, password_changed_at)
);
