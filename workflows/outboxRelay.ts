import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { findUndeliveredMessages, redeliverMessage } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '1 minute',
  // The next run tries again: a provider that is down must not hold this one.
  retry: { maximumAttempts: 2 },
});

/**
 * Run every minute by a Temporal Schedule: delivers the messages an earlier attempt recorded
 * but could not hand to the provider (a first-access password while Twilio was down, say).
 */
export async function outboxRelay(input: { graceMs: number }): Promise<{ delivered: number; failed: number }> {
  let delivered = 0;
  let failed = 0;
  for (const key of await findUndeliveredMessages(input)) {
    try {
      await redeliverMessage(key);
      delivered++;
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      failed++;
    }
  }
  return { delivered, failed };
}
