import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { registration as process, type RegistrationInput } from '../machines/registration.js';
import { hostProcess } from './host.js';

type Activities = ReturnType<typeof createActivities>;

const delivery = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  // The user is waiting on the other side of the Update: a few quick tries, then "not delivered".
  retry: { maximumAttempts: 4, initialInterval: '500ms', nonRetryableErrorTypes: ['ContactNotUsable'] },
});
const registry = proxyActivities<Activities>({ startToCloseTimeout: '30s' });

/** P1: registration of the secure channel, workflow id `registration-<subjectId>`. */
export async function registration(input: RegistrationInput) {
  return hostProcess(process, input, {
    sendCode: delivery.sendRegistrationCode,
    registerChannel: registry.registerSecureChannel,
  });
}
