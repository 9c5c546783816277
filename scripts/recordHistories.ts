/**
 * `npx tsx scripts/recordHistories.ts`: runs one registration down each way it can end, on
 * the real parts (as the bench starts them), and writes each workflow history, decrypted, to
 * tests/fixtures/histories/registration-<way>.<date>[-n].json. The tests replay them against the
 * current workflow code: a change that would break registrations already running fails there,
 * before it is deployed.
 *
 * Record again only on purpose, when the histories of the running version are kept beside the
 * new ones (or every registration of the old version has ended).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { codeHash } from '../activities/codes.js';
import { registrationInput } from '../activities/registration.js';
import { initialView } from '../machines/process.js';
import { registration } from '../machines/registration.js';
import { EncryptionCodec } from '../runtime/codec.js';
import { projectRoot } from '../runtime/temporal.js';
import type { ProcessView } from '../workflows/host.js';
import { startSearchAttributes } from '../workflows/searchAttributes.js';
import { startBenchEnv } from './bench/env.js';
import { provisionMember } from './bench/subjects.js';

type History = proto.temporal.api.history.v1.IHistory;
const { History: HistoryMessage } = proto.temporal.api.history.v1;

/** protobuf's own JSON form (enum names, base64 bytes): what the tests read back with fromObject. */
const toJson = (history: History) =>
  JSON.stringify(HistoryMessage.toObject(HistoryMessage.fromObject(history), { longs: String, enums: String, bytes: String }), null, 1);

const OTP_TTL_MS = 1000;
const IDLE_MS = 2000;
const ATTEMPTS = 3;
const out = path.join(projectRoot, 'tests', 'fixtures', 'histories');

const env = await startBenchEnv({ OTP_TTL: `${OTP_TTL_MS}ms`, REGISTRATION_IDLE: `${IDLE_MS}ms`, OTP_MAX_ATTEMPTS: String(ATTEMPTS) });
const { stack } = env;
const codec = new EncryptionCodec(stack.secrets.keyring);

/** The history with every payload decrypted: replayable without the key that wrote it. */
async function decrypted(history: History): Promise<History> {
  const walk = async (node: unknown): Promise<void> => {
    if (!node || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node)) {
      const payload = child as { metadata?: unknown; data?: unknown };
      if (payload && typeof payload === 'object' && payload.metadata && payload.data instanceof Uint8Array) {
        [(node as Record<string, unknown>)[key]] = await codec.decode([payload as never]);
      } else if (Array.isArray(child) && child.some((c) => c?.metadata && c?.data instanceof Uint8Array)) {
        (node as Record<string, unknown>)[key] = await codec.decode(child);
      } else {
        await walk(child);
      }
    }
  };
  await walk(history);
  return history;
}

async function start() {
  const member = await provisionMember(stack);
  const input = await registrationInput(stack.pool, member.id, stack.config.registration);
  // Started as the API starts it, search attributes included.
  const handle = await stack.client.workflow.start('registration', {
    workflowId: `registration-${member.id}`,
    taskQueue: stack.config.temporal.taskQueue,
    args: [input],
    typedSearchAttributes: startSearchAttributes(registration.searchKey(input), initialView(registration, input, Date.now()).state),
  });
  const mobileId = input.contacts.find((c) => c.kind === 'mobile')!.id;
  const step = (event: Record<string, unknown>) => handle.executeUpdate('step', { args: [event] });
  /** The hash of the code in the count-th message sent to the member. */
  const sentCode = async (count: number) => {
    await stack.captures!.waitFor(member.mobile, () => stack.captures!.list(member.mobile).length >= count);
    const newestFirst = stack.captures!.list(member.mobile);
    return codeHash(stack.secrets, member.id, /\b(\d{6})\b/.exec(newestFirst[newestFirst.length - count]!.text)![1]!);
  };
  return { handle, mobileId, step, sentCode };
}

async function until(handle: WorkflowHandle, state: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await handle.query<ProcessView>('view')).state !== state) {
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} never reached ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ways: Record<string, () => Promise<WorkflowHandle>> = {
  // a wrong code, a new code refused while the first lives, then granted once it expired
  async registered() {
    const { handle, mobileId, step, sentCode } = await start();
    await step({ type: 'channel.choose', channel: 'sms', contactId: mobileId });
    await step({ type: 'code.submit', codeHash: 'sbagliato' });
    await step({ type: 'code.regenerate' });
    await until(handle, 'codeExpired');
    await step({ type: 'code.regenerate' });
    await step({ type: 'code.submit', codeHash: await sentCode(2) });
    return handle;
  },
  async lockedOut() {
    const { handle, mobileId, step } = await start();
    await step({ type: 'channel.choose', channel: 'sms', contactId: mobileId });
    for (let i = 0; i < ATTEMPTS; i++) await step({ type: 'code.submit', codeHash: `sbagliato-${i}` });
    return handle;
  },
  async abandoned() {
    const { handle } = await start();
    return handle;
  },
};

function unusedName(base: string): string {
  for (let n = 1; ; n++) {
    const file = path.join(out, `${base}${n === 1 ? '' : `-${n}`}.json`);
    if (!fs.existsSync(file)) return file;
  }
}

try {
  fs.mkdirSync(out, { recursive: true });
  for (const [name, run] of Object.entries(ways)) {
    const handle = await run();
    // Under load a short code life or idle limit can end a run another way: such a recording would lie about its name.
    const { state } = await handle.result();
    if (state !== name) throw new Error(`${handle.workflowId} ended ${state}, not ${name}: record again on a quieter machine`);
    // Dated, and numbered within a day, so that new recordings sit beside those of the version still running.
    const file = unusedName(`registration-${name}.${new Date().toISOString().slice(0, 10)}`);
    fs.writeFileSync(file, `${toJson(await decrypted(await handle.fetchHistory()))}\n`);
    process.stdout.write(`${path.relative(projectRoot, file)}\n`);
  }
} finally {
  await env.stop();
}
