import { proxyLocalActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { registration as process, type RegistrationInput } from '../machines/registration.js';
import { hostProcess } from './host.js';

type Activities = ReturnType<typeof createActivities>;

// Local activities: the user waits on the other side of each Update, and these side effects
// take milliseconds, so they run inside the workflow task instead of a round trip through
// Temporal's task queues. Their run keys make a replayed attempt a no-op all the same.
const delivery = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  // A few quick tries, then "not delivered": the user can try again or pick another contact.
  retry: { maximumAttempts: 4, initialInterval: '500ms', nonRetryableErrorTypes: ['ContactNotUsable'] },
});
// Retried for up to two minutes (a database failing over), then reported as not done.
const registry = proxyLocalActivities<Activities>({ startToCloseTimeout: '30s', scheduleToCloseTimeout: '2 minutes' });

/** P1: registration of the secure channel, workflow id `registration-<subjectId>`. */
export async function registration(input: RegistrationInput) {
  return hostProcess(process, input, {
    sendCode: delivery.sendRegistrationCode,
    registerChannel: registry.registerSecureChannel,
  });
}
