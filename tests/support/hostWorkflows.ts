import { proxyActivities } from '@temporalio/workflow';
import { assign, emit, fromPromise, setup } from 'xstate';
import type { ProcessDefinition } from '../../machines/process.js';
import { hostProcess } from '../../workflows/host.js';

/**
 * A tally that a reviewer closes: the smallest machine with steps, an actor, a signal, a
 * step that ends it (finish) and one whose actor fails with nothing to handle it (breakDown).
 */
const tallyMachine = setup({
  types: {
    input: {} as { owner: string },
    context: {} as { owner: string; total: number; notes: number },
    events: {} as
      | { type: 'add'; amount: number; at: number }
      | { type: 'note'; at: number }
      | { type: 'finish'; at: number }
      | { type: 'breakDown'; at: number }
      | { type: 'close'; at: number },
    emitted: {} as { type: 'outcome'; code: string; total: number },
  },
  actors: {
    addSlowly: fromPromise<number, { total: number; amount: number }>(async () => 0),
    fail: fromPromise<void>(async () => undefined),
  },
}).createMachine({
  id: 'tally',
  context: ({ input }) => ({ owner: input.owner, total: 0, notes: 0 }),
  initial: 'open',
  states: {
    open: {
      on: {
        add: { target: 'adding', actions: assign({ total: ({ context, event }) => context.total + event.amount }) },
        note: { actions: assign({ notes: ({ context }) => context.notes + 1 }) },
        finish: { target: 'closed', actions: emit(({ context }) => ({ type: 'outcome' as const, code: 'finished', total: context.total })) },
        breakDown: 'breakingDown',
        close: 'closed',
      },
    },
    breakingDown: { invoke: { src: 'fail' } },
    adding: {
      invoke: {
        src: 'addSlowly',
        input: ({ context }) => ({ total: context.total, amount: 0 }),
        onDone: { target: 'open', actions: emit(({ context }) => ({ type: 'outcome' as const, code: 'added', total: context.total })) },
      },
    },
    closed: { type: 'final' },
  },
});

const tally: ProcessDefinition<typeof tallyMachine> = {
  machine: tallyMachine,
  steps: ['add', 'note', 'finish', 'breakDown'],
  signals: ['close'],
  view: (snapshot) => ({ total: snapshot.context.total }),
  searchKey: () => null,
};

const { addSlowly, fail } = proxyActivities<{ addSlowly(input: { total: number; amount: number }): Promise<number>; fail(): Promise<void> }>({
  startToCloseTimeout: '10s',
});

export async function tallyProcess(input: { owner: string }) {
  return hostProcess(tally, input, { addSlowly, fail });
}
