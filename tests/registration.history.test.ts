import fs from 'node:fs';
import path from 'node:path';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { FAILURE_CONVERTER_PATH, projectRoot } from '../runtime/temporal.js';

const { History } = proto.temporal.api.history.v1;
const fixtures = path.join(projectRoot, 'tests', 'fixtures', 'histories');

/*
 * Histories recorded by scripts/recordHistories.ts, one for each way a registration ends. A
 * registration lives up to REGISTRATION_IDLE (a day): the worker deployed tomorrow replays the
 * ones started today. Replaying them here is what says a change to the machine or the host is
 * safe to deploy over running registrations.
 */
describe('registrations recorded by the current workflow code', () => {
  const files = fs.readdirSync(fixtures).filter((f) => f.startsWith('registration-') && f.endsWith('.json'));

  it('cover registered, locked out and abandoned', () => {
    expect(new Set(files.map((f) => f.split('.')[0]))).toEqual(new Set(['registration-abandoned', 'registration-lockedOut', 'registration-registered']));
  });

  for (const file of files) {
    it(`replay to the same commands: ${file}`, async () => {
      const history = History.fromObject(JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8')));
      const started = history.events[0]!.workflowExecutionStartedEventAttributes!;
      // Throws DeterminismViolationError when today's code would issue other commands.
      await Worker.runReplayHistory(
        // Payloads were stored decrypted: no key is needed to read them back.
        { workflowBundle: { codePath: inject('workflowBundlePath') }, dataConverter: { failureConverterPath: FAILURE_CONVERTER_PATH } },
        history,
        started.workflowId ?? undefined,
      );
      const last = history.events.at(-1)!;
      expect(last.eventType).toBe(proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
    });
  }
});
