import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Purged } from '../activities/housekeeping.js';
import { loadConfig } from '../runtime/config.js';
import { Browser } from './support/http.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember, randomMobile } from './support/subjects.js';

/**
 * The daily housekeeping: what is past its use goes, what may still serve stays. A database
 * of this file's own: a run purges every table it finds, whoever wrote the rows.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { ownDatabase: 'varco_housekeeping', schedules: true });
});
afterAll(async () => {
  await stack?.stop();
});

const run = <T>(workflowType: string, args: unknown[] = []) =>
  stack.client.workflow.execute(workflowType, { taskQueue: stack.config.temporal.taskQueue, workflowId: `${workflowType}-${randomUUID()}`, args }) as Promise<T>;
const exists = async (sql: string, params: unknown[]) => ((await stack.pool.query(sql, params)).rowCount ?? 0) > 0;
const ago = (sql: string) => `now() - interval '${sql}'`;

describe('housekeeping', () => {
  it('deletes ended sessions, closed counters, forgotten failures, old codes and old messages; gives up and audits a message never delivered', async () => {
    const member = await provisionMember(stack);
    const sessions: string[] = [];
    for (let i = 0; i < 3; i++) {
      expect((await new Browser(stack.url).post('/api/session', { username: member.codiceFiscale, password: member.password })).status).toBe(200);
    }
    sessions.push(...(await stack.pool.query<{ id: string }>('select id from sessions where subject_id = $1 order by created_at', [member.id])).rows.map((r) => r.id));
    // one idle past SESSION_IDLE, one open past SESSION_MAX, one live
    await stack.pool.query(`update sessions set last_seen_at = ${ago('31 minutes')} where id = $1`, [sessions[0]]);
    await stack.pool.query(`update sessions set created_at = ${ago('13 hours')} where id = $1`, [sessions[1]]);

    await stack.pool.query(`insert into rate_limits (bucket, window_start, hits) values ('test:closed', ${ago('25 hours')}, 3), ('test:open', now(), 3)`);
    await stack.pool.query(
      `insert into login_throttle (key, failures, last_failure_at, locked_until) values
         ('unknown:FORGOTTEN', 2, ${ago('16 minutes')}, null),
         ('unknown:RECENT', 2, now(), null),
         ('unknown:LOCKED', 0, ${ago('16 minutes')}, now() + interval '10 minutes')`,
    );
    await stack.pool.query(
      `insert into one_time_codes (key, subject_id, code_hash, created_at) values ('test/old', $1, 'h', ${ago('25 hours')}), ('test/new', $1, 'h', now())`,
      [member.id],
    );

    const message = async (key: string, to: string, redeliver: boolean, age: string, sent = false) => {
      await stack.outbox.enqueue(stack.pool, { key, subjectId: member.id, channel: 'sms', to, message: { subject: 'prova', text: 'testo riservato' }, redeliver });
      await stack.pool.query(`update outbox set created_at = ${ago(age)}, status = $2 where idempotency_key = $1`, [key, sent ? 'sent' : 'pending']);
    };
    const [stale, fresh] = [randomMobile(), randomMobile()];
    await message('test/sent', randomMobile(), true, '25 hours', true);
    await message('test/never-delivered', stale, true, '25 hours');
    await message('test/code', randomMobile(), false, '25 hours');
    await message('test/on-its-way', fresh, true, '2 minutes');

    // The relay leaves a message past OUTBOX_KEEP, and still delivers a younger one.
    await run('outboxRelay', [{ graceMs: 0 }]);
    await stack.captures!.waitFor(fresh);
    expect(stack.captures!.list(stale)).toEqual([]);

    expect(await run<Purged>('housekeeping')).toEqual({ sessions: 2, rateLimits: 1, loginThrottles: 1, codes: 1, messages: 3, undelivered: 1 });

    expect((await stack.pool.query('select id from sessions where subject_id = $1', [member.id])).rows).toEqual([{ id: sessions[2] }]);
    expect(await exists(`select 1 from rate_limits where bucket = 'test:open'`, [])).toBe(true);
    expect((await stack.pool.query(`select key from login_throttle where key like 'unknown:%' order by key`)).rows).toEqual([{ key: 'unknown:LOCKED' }, { key: 'unknown:RECENT' }]);
    expect((await stack.pool.query('select key from one_time_codes where subject_id = $1', [member.id])).rows).toEqual([{ key: 'test/new' }]);
    expect((await stack.pool.query(`select idempotency_key as key from outbox where idempotency_key like 'test/%'`)).rows).toEqual([{ key: 'test/on-its-way' }]);
    const given = await stack.pool.query(`select details from audit_events where subject_id = $1 and event = 'message_undelivered'`, [member.id]);
    expect(given.rows).toEqual([{ details: { channel: 'sms', key: 'test/never-delivered' } }]);

    // Nothing left to do: a second run deletes nothing.
    expect(await run<Purged>('housekeeping')).toEqual({ sessions: 0, rateLimits: 0, loginThrottles: 0, codes: 0, messages: 0, undelivered: 0 });
  });

  it('refuses an OUTBOX_KEEP under an hour, which would leave the relay nothing to retry', () => {
    expect(() => loadConfig({ OUTBOX_KEEP: '30m' })).toThrow(/OUTBOX_KEEP: almeno 1h/);
    expect(loadConfig({ OUTBOX_KEEP: '2h' }).outboxKeepMs).toBe(7_200_000);
  });

  it('is scheduled daily', async () => {
    const schedule = await stack.client.schedule.getHandle(`housekeeping-${stack.config.temporal.taskQueue}`).describe();
    expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'housekeeping' });
    expect(schedule.spec.calendars).toEqual([expect.objectContaining({ hour: [{ start: 3, end: 3, step: 1 }], minute: [{ start: 30, end: 30, step: 1 }] })]);
  });
});
