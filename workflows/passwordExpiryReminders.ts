import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { findPasswordsExpiringSoon, sendPasswordExpiryNotice } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '1 minute',
  // A run left open makes the Schedule skip every later one: a failure that outlasts a few tries ends it.
  retry: { maximumAttempts: 5 },
});

/** Run daily by a Temporal Schedule: warns every subject whose password expires within the notice period, once per password. */
export async function passwordExpiryReminders(): Promise<{ notified: number }> {
  const due = await findPasswordsExpiringSoon();
  for (const password of due) await sendPasswordExpiryNotice(password);
  return { notified: due.length };
}
