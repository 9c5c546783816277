import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { CLAIM_STALE_MS } from '../activities/outbox.js';
import type { Config } from './config.js';

/** A message this fresh may still be on its way through the attempt that recorded it. */
const RELAY_GRACE_MS = CLAIM_STALE_MS;

/**
 * The daily password-expiry reminders and housekeeping, and the outbox relay, every minute;
 * creating them again on every start is a no-op.
 */
export async function ensureSchedules(client: Client, config: Config): Promise<void> {
  const { taskQueue } = config.temporal;
  const schedules: ScheduleOptions[] = [
    {
      scheduleId: `password-expiry-reminders-${taskQueue}`,
      spec: { calendars: [{ hour: 7, minute: 0 }], timezone: 'Europe/Rome' },
      action: { type: 'startWorkflow', workflowType: 'passwordExpiryReminders', taskQueue, workflowId: `password-expiry-reminders-${taskQueue}` },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    },
    {
      scheduleId: `outbox-relay-${taskQueue}`,
      spec: { intervals: [{ every: '1 minute' }] },
      action: { type: 'startWorkflow', workflowType: 'outboxRelay', taskQueue, workflowId: `outbox-relay-${taskQueue}`, args: [{ graceMs: RELAY_GRACE_MS }] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    },
    {
      scheduleId: `housekeeping-${taskQueue}`,
      spec: { calendars: [{ hour: 3, minute: 30 }], timezone: 'Europe/Rome' },
      action: { type: 'startWorkflow', workflowType: 'housekeeping', taskQueue, workflowId: `housekeeping-${taskQueue}` },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    },
  ];
  for (const schedule of schedules) {
    try {
      await client.schedule.create(schedule);
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    }
  }
}
