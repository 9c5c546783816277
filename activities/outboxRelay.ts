import type { ActivityDeps } from './deps.js';

/** The outbox relay's side: which messages are still owed, and one more try at each. */
export function outboxRelayActivities({ config, outbox }: ActivityDeps) {
  return {
    async findUndeliveredMessages(input: { graceMs: number }): Promise<string[]> {
      return outbox.undelivered(input.graceMs, config.outboxKeepMs);
    },

    async redeliverMessage(key: string): Promise<void> {
      await outbox.deliver(key);
    },
  };
}
