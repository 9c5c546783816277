import type { ActivityDeps } from './deps.js';
import { housekeepingActivities } from './housekeeping.js';
import { outboxRelayActivities } from './outboxRelay.js';
import { passwordExpiryActivities } from './passwordExpiry.js';
import { registrationActivities } from './registration.js';

/** Every Temporal activity of varco, bound to its dependencies. Workflows type their proxies with this. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...registrationActivities(deps),
    ...passwordExpiryActivities(deps),
    ...outboxRelayActivities(deps),
    ...housekeepingActivities(deps),
  };
}
