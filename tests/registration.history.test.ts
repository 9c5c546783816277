import fs from 'node:fs';
import path from 'node:path';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type InjectedSinks } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_CONVERTER_PATH, projectRoot } from '../runtime/temporal.js';
import type { ReplayProbe } from './support/replayProbe.js';

const { History } = proto.temporal.api.history.v1;
const { EventType } = proto.temporal.api.enums.v1;
const fixtures = path.join(projectRoot, 'tests', 'fixtures', 'histories');

/** A payload as the recorder stored it, decrypted: JSON. */
const valueOf = (payload: proto.temporal.api.common.v1.IPayload | null | undefined): unknown => JSON.parse(Buffer.from(payload?.data ?? []).toString());

let workflowBundle: { code: string };
beforeAll(async () => {
  // The workflows as deployed, with a probe that reports how each replay ends.
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: path.join(projectRoot, 'workflows', 'index.ts'),
    workflowInterceptorModules: [path.join(import.meta.dirname, 'support', 'replayProbe.ts')],
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
}, 120_000);

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
    it(`replay to the same commands, the same result and the same ProcessState: ${file}`, async () => {
      const history = History.fromObject(JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8')));
      const started = history.events[0]!.workflowExecutionStartedEventAttributes!;
      const ended: { result: unknown; processState: string | undefined }[] = [];
      const sinks: InjectedSinks<ReplayProbe> = {
        probe: { ended: { fn: (_info, result, processState) => void ended.push({ result, processState }), callDuringReplay: true } },
      };
      // Throws DeterminismViolationError when today's code would issue other commands.
      await Worker.runReplayHistory(
        {
          workflowBundle,
          // Payloads were stored decrypted: no key is needed to read them back.
          dataConverter: { failureConverterPath: FAILURE_CONVERTER_PATH },
          sinks,
        },
        history,
        started.workflowId ?? undefined,
      );
      const last = history.events.at(-1)!;
      expect(last.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
      // Replay compares an upsert's type, not its values, and not the result: a state renamed or
      // ended elsewhere would replay all the same, and operators and routes would read another name.
      const upserted = history.events.flatMap((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.ProcessState ?? []);
      const result = valueOf(last.workflowExecutionCompletedEventAttributes!.result!.payloads![0]);
      expect(ended).toEqual([{ result, processState: valueOf(upserted.at(-1)) }]);
      // and the recording ended the way its name says
      expect(result).toEqual({ state: file.split('.')[0]!.replace('registration-', '') });
    });
  }
});
