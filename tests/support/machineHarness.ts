import { createActor, fromPromise, SimulatedClock, type AnyStateMachine, type AnyMachineSnapshot } from 'xstate';
import { stateName, type Outcome } from '../../machines/process.js';

/**
 * Runs a process machine outside Temporal with a simulated clock. The machine's actors are
 * answered from a script (resolve with an output, or fail), so any path can be replayed.
 */
export interface Harness {
  actor: ReturnType<typeof createActor<AnyStateMachine>>;
  clock: SimulatedClock;
  outcomes: Outcome[];
  /** events carry the clock's time, as the workflow host stamps them, unless they bring their own */
  send(event: { type: string } & Record<string, unknown>): Promise<Outcome | undefined>;
  advance(ms: number): Promise<void>;
  state(): string;
  snapshot(): AnyMachineSnapshot;
  calls: Array<{ actor: string; input: unknown }>;
}

export type ActorScript = Record<string, Array<{ output?: unknown; fail?: boolean }>>;

export const settle = () => new Promise((resolve) => setImmediate(resolve));

export { stateName };

export function runMachine(machine: AnyStateMachine, input: unknown, script: ActorScript, defaults: Record<string, unknown> = {}): Harness {
  const clock = new SimulatedClock();
  const calls: Harness['calls'] = [];
  const actors = Object.fromEntries(
    Object.keys(machine.implementations.actors).map((name) => [
      name,
      fromPromise(async ({ input: actorInput }: { input: unknown }) => {
        calls.push({ actor: name, input: actorInput });
        const next = script[name]?.shift();
        if (next?.fail) throw new Error(`${name} failed`);
        return next?.output ?? defaults[name];
      }),
    ]),
  );
  const actor = createActor(machine.provide({ actors } as never), { input, clock });
  const outcomes: Outcome[] = [];
  actor.on('outcome', ({ type: _type, ...rest }: { type: string } & Outcome) => outcomes.push(rest as Outcome));
  actor.start();
  return {
    actor,
    clock,
    outcomes,
    calls,
    async send(event) {
      const before = outcomes.length;
      actor.send({ at: clock.now(), ...event });
      await settle();
      return outcomes.length > before ? outcomes.at(-1) : undefined;
    },
    async advance(ms) {
      clock.increment(ms);
      await settle();
    },
    state: () => stateName(actor.getSnapshot().value),
    snapshot: () => actor.getSnapshot(),
  };
}
