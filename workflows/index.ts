export { registration } from './registration.js';
export { passwordExpiryReminders } from './passwordExpiryReminders.js';
export { outboxRelay } from './outboxRelay.js';
export { housekeeping } from './housekeeping.js';
