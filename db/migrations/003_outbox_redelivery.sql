-- Messages left undelivered (a provider down, a worker gone) are delivered later by the outbox
-- relay, except those whose failure the user was told about and answers by asking again (a
-- one-time code, a PIN): a late copy would only be a stale, invalid one.
alter table outbox add column redeliver boolean not null default true;
create index outbox_undelivered on outbox (id) where status <> 'sent' and redeliver;
