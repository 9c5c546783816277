/** What a logged-in subject must do before anything else (seeds 000 and 001). */
export type RequiredAction = 'change_password' | 'register_secure_channel';

export interface AccountState {
  mustChange: boolean;
  passwordChangedAt: Date;
  hasSecureChannel: boolean;
}

export function passwordExpiresAt(changedAt: Date, maxAgeMs: number): Date {
  return new Date(changedAt.getTime() + maxAgeMs);
}

/** A first-access or expired password lets the user in only to change it; no channel, only to register one. */
export function requiredActions(state: AccountState, maxAgeMs: number, now: Date): RequiredAction[] {
  const actions: RequiredAction[] = [];
  if (state.mustChange || passwordExpiresAt(state.passwordChangedAt, maxAgeMs) <= now) actions.push('change_password');
  if (!state.hasSecureChannel) actions.push('register_secure_channel');
  return actions;
}
