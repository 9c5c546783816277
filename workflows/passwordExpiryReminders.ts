import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { findPasswordsExpiringSoon, sendPasswordExpiryNotice } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '1 minute',
});

/** Run daily by a Temporal Schedule: warns every subject whose password expires within the notice period, once per password. */
export async function passwordExpiryReminders(): Promise<{ notified: number }> {
  const due = await findPasswordsExpiringSoon();
  for (const password of due) await sendPasswordExpiryNotice(password);
  return { notified: due.length };
}
