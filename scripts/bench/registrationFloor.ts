import { randomBytes, randomInt } from 'node:crypto';
import { PasswordHasher } from '../../activities/credentials.js';
import type { Stack } from '../../runtime/stack.js';

export type FloorActivities = Awaited<ReturnType<typeof registrationFloor>>;

export interface FloorStep {
  workflowId: string;
  to: string;
  code?: string;
}

/**
 * The side effects no registration can do without, at their least, for the floor workflow
 * (referenceWorkflows.ts): keep a keyed hash of a 6-digit code and text it; then, if the code
 * matches, hash a new first-access password with argon2id, store it and text it. One statement
 * and one SMS each, through the same pool, Twilio client and argon2id parameters as varco. No API, no
 * sessions, no audit, no machine, no checks of contacts.
 */
export async function registrationFloor(stack: Stack) {
  await stack.pool.query(`
    create table if not exists bench_floor_codes (workflow_id text primary key, digest text not null, at timestamptz not null default now());
    create table if not exists bench_floor_passwords (workflow_id text primary key, hash text not null, at timestamptz not null default now());`);
  const { transports } = stack;
  const hasher = new PasswordHasher(stack.config.argon2);
  const digest = (code: string) => stack.secrets.mac('bench-floor', code);

  const activities = {
    async floorSendCode({ workflowId, to }: FloorStep): Promise<void> {
      const code = String(randomInt(1_000_000)).padStart(6, '0');
      await stack.pool.query(
        'insert into bench_floor_codes (workflow_id, digest) values ($1, $2) on conflict (workflow_id) do update set digest = excluded.digest, at = now()',
        [workflowId, digest(code)],
      );
      await transports.sendSms({ to, text: `Codice di verifica: ${code}` });
    },
    async floorRegister({ workflowId, to, code = '' }: FloorStep): Promise<void> {
      const password = randomBytes(9).toString('base64url');
      const { rowCount } = await stack.pool.query(
        `with used as (delete from bench_floor_codes where workflow_id = $1 and digest = $2 returning workflow_id)
         insert into bench_floor_passwords (workflow_id, hash) select workflow_id, $3 from used`,
        [workflowId, digest(code), await hasher.hash(password)],
      );
      if (rowCount !== 1) throw new Error('floor: wrong code');
      await transports.sendSms({ to, text: `Password di primo accesso: ${password}` });
    },
  };
  return activities;
}
