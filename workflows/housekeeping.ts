import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { purgeExpired } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '5 minutes',
  // A run left open makes the Schedule skip the next: tomorrow's run tries again.
  retry: { maximumAttempts: 5 },
});

/** Run daily by a Temporal Schedule: deletes what is past its use (activities/housekeeping.ts). */
export async function housekeeping() {
  return purgeExpired();
}
