-- A message is claimed (status 'sending') while it is being handed to the provider, outside
-- any transaction; a claim older than a minute belongs to an attempt that died, and is taken over.
alter table outbox add column claimed_at timestamptz;
alter table outbox drop constraint outbox_status_check;
alter table outbox add constraint outbox_status_check check (status in ('pending', 'sending', 'sent'));
