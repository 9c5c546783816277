import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from './config.js';

/** The daily password-expiry reminders; creating it again on every start is a no-op. */
export async function ensureSchedules(client: Client, config: Config): Promise<string> {
  const scheduleId = `password-expiry-reminders-${config.temporal.taskQueue}`;
  try {
    await client.schedule.create({
      scheduleId,
      spec: { calendars: [{ hour: 7, minute: 0 }], timezone: 'Europe/Rome' },
      action: { type: 'startWorkflow', workflowType: 'passwordExpiryReminders', taskQueue: config.temporal.taskQueue, workflowId: scheduleId },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  return scheduleId;
}
