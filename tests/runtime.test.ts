import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Outbox } from '../activities/outbox.js';
import { captureTargets } from '../runtime/captures.js';
import { createLogger } from '../runtime/logger.js';
import { createTransports } from '../runtime/transports.js';
import { Browser } from './support/http.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { provisionMember } from './support/subjects.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const captures = () => captureTargets(stack.captureServers!);

describe('the runtime on real parts', () => {
  it('answers /healthz with Postgres and Temporal up', async () => {
    const res = await new Browser(stack.url).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ postgres: 'ok', temporal: 'ok' });
  });

  it('runs a workflow round trip through the worker, its activities and Postgres', async () => {
    const result = await stack.client.workflow.execute('passwordExpiryReminders', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `smoke-${Date.now()}`,
    });
    expect(result).toEqual({ notified: expect.any(Number) });
  });

  it('replaces a worker that stops, so workflows keep running', async () => {
    const first = stack.worker!.current();
    first.shutdown();
    const deadline = Date.now() + 30_000;
    while (stack.worker!.current() === first || stack.worker!.current().getState() !== 'RUNNING') {
      if (Date.now() > deadline) throw new Error('no new worker took over');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(first.getState()).toBe('STOPPED');
    const result = await stack.client.workflow.execute('passwordExpiryReminders', { taskQueue: stack.config.temporal.taskQueue, workflowId: `after-restart-${Date.now()}` });
    expect(result).toEqual({ notified: expect.any(Number) });
  });

  it('delivers an e-mail through nodemailer to the SMTP listener', async () => {
    const transports = createTransports(stack.config, captures());
    await transports.sendEmail({ to: 'prova@example.it', subject: 'Prova', text: 'Messaggio di prova', messageId: '<prova@varco>' });
    const message = await stack.captures!.waitFor('prova@example.it');
    expect(message).toMatchObject({ channel: 'email', subject: 'Prova', text: 'Messaggio di prova' });
    transports.close();
  });

  it('delivers an SMS through the twilio client to the Messages API capture, which checks the credentials', async () => {
    const targets = captures();
    const transports = createTransports(stack.config, targets);
    const sid = await transports.sendSms({ to: '+393330000001', text: 'SMS di prova' });
    expect(sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(await stack.captures!.waitFor('+393330000001')).toMatchObject({ channel: 'sms', text: 'SMS di prova' });

    const forged = createTransports(stack.config, { ...targets, twilio: { ...targets.twilio, authToken: 'sbagliato' } });
    await expect(forged.sendSms({ to: '+393330000002', text: 'non deve arrivare' })).rejects.toThrow(/Authenticate/);
    expect(stack.captures!.list('+393330000002')).toEqual([]);
  });

  it('delivers an outbox message once, however many attempts run at the same time or after', async () => {
    const outbox = new Outbox(stack.pool, stack.secrets.keyring, createTransports(stack.config, captures()));
    const key = `once-${Date.now()}`;
    expect(await outbox.enqueue(stack.pool, { key, subjectId: null, channel: 'sms', to: '+393330000009', message: { subject: 'x', text: 'una volta sola' } })).toBe(true);
    expect(await outbox.enqueue(stack.pool, { key, subjectId: null, channel: 'sms', to: '+393330000009', message: { subject: 'x', text: 'duplicato' } })).toBe(false);
    const attempts = await Promise.allSettled([outbox.deliver(key), outbox.deliver(key), outbox.deliver(key)]);
    expect(attempts.filter((a) => a.status === 'fulfilled').length).toBeGreaterThan(0);
    for (const a of attempts) if (a.status === 'rejected') expect(String(a.reason)).toContain('già in consegna');
    await outbox.deliver(key);
    expect(stack.captures!.list('+393330000009').map((m) => m.text)).toEqual(['una volta sola']);
    const { rows } = await stack.pool.query('select status, sealed_body from outbox where idempotency_key = $1', [key]);
    expect(rows[0].status).toBe('sent');
    expect(rows[0].sealed_body).not.toContain('una volta sola');
  });

  it('shows captured messages newest first at /api/dev/outbox', async () => {
    const transports = createTransports(stack.config, captures());
    await transports.sendEmail({ to: 'ordine@example.it', subject: 'primo', text: '1', messageId: '<1@varco>' });
    await stack.captures!.waitFor('ordine@example.it', (m) => m.subject === 'primo');
    await transports.sendEmail({ to: 'ordine@example.it', subject: 'secondo', text: '2', messageId: '<2@varco>' });
    await stack.captures!.waitFor('ordine@example.it', (m) => m.subject === 'secondo');
    const res = await new Browser(stack.url).get('/api/dev/outbox?to=ORDINE@example.it');
    expect(res.status).toBe(200);
    expect(res.body.messages.map((m: { subject: string }) => m.subject)).toEqual(['secondo', 'primo']);
    expect(res.body.messages[0]).toEqual({ channel: 'email', to: 'ordine@example.it', subject: 'secondo', text: '2', at: expect.any(String) });
    transports.close();
  });

  it('has no /api/dev/outbox when the API listens beyond loopback, captures or not', async () => {
    const exposed = await startTestStack({ HOST: '0.0.0.0' }, { worker: false });
    try {
      expect(exposed.captures).toBeDefined();
      expect((await new Browser(exposed.url.replace('0.0.0.0', '127.0.0.1')).get('/api/dev/outbox')).status).toBe(404);
    } finally {
      await exposed.stop();
    }
  });

  it('has no /api/dev/outbox when a real SMTP relay and Twilio are configured', async () => {
    const servers = stack.captureServers!;
    const configured = await startTestStack(
      {
        SMTP_URL: servers.smtpUrl,
        TWILIO_ACCOUNT_SID: servers.twilioAccountSid,
        TWILIO_AUTH_TOKEN: servers.twilioAuthToken,
        TWILIO_FROM: '+15005550006',
        TWILIO_BASE_URL: servers.twilioBaseUrl,
      },
      { worker: false },
    );
    try {
      expect(configured.captures).toBeUndefined();
      const res = await new Browser(configured.url).get('/api/dev/outbox');
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('not_found');
    } finally {
      await configured.stop();
    }
  });
});

describe('logs', () => {
  it('redact secrets wherever they sit in a logged object', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    logger.info({ password: 'Segreta#1', body: { code: '123456', newPassword: 'Nuova#2' }, req: { headers: { authorization: 'Bearer t0k3n', cookie: 'varco_session=abc' } } }, 'prova');
    const text = lines.join('');
    for (const secret of ['Segreta#1', '123456', 'Nuova#2', 't0k3n', 'varco_session=abc']) expect(text).not.toContain(secret);
    expect(text).toContain('[redatto]');
  });
});

describe('payload encryption', () => {
  it('leaves nothing readable in a workflow history without the key, and the codec endpoint decodes it only with the token', async () => {
    const member = await provisionMember(stack);
    const workflowId = `codec-${member.id}`;
    const handle = await stack.client.workflow.start('registration', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId,
      args: [{ subjectId: member.id, codiceFiscale: member.codiceFiscale, contacts: [{ id: 'c1', kind: 'email', masked: 'VISIBILE-SOLO-CON-CHIAVE' }], settings: { otpTtlMs: 60_000, otpMaxAttempts: 3, idleMs: 60_000 } }],
    });
    expect((await handle.query<{ state: string }>('view')).state).toBe('choosingChannel');
    await handle.terminate('fine del test');

    // A client without the codec sees the history as stored by the server.
    const raw = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    const history = await raw.workflow.getHandle(workflowId).fetchHistory();
    // Every payload anywhere in the history: inputs, results, queries, search attributes aside.
    const encodings: string[] = [];
    const plaintext: string[] = [];
    const walk = (node: unknown, key = ''): void => {
      if (!node || typeof node !== 'object') return;
      const maybe = node as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
      if (maybe.metadata?.encoding && maybe.data instanceof Uint8Array && key !== 'indexedFields') {
        encodings.push(Buffer.from(maybe.metadata.encoding).toString());
        plaintext.push(Buffer.from(maybe.data).toString('latin1'));
        return;
      }
      for (const [k, child] of Object.entries(node)) walk(child, k === 'indexedFields' || key === 'indexedFields' ? 'indexedFields' : k);
    };
    walk(history);
    expect(encodings.length).toBeGreaterThan(0);
    expect(new Set(encodings)).toEqual(new Set(['binary/encrypted']));
    expect(plaintext.join('')).not.toContain('VISIBILE-SOLO-CON-CHIAVE');
    expect(plaintext.join('')).not.toContain(member.id);
    await raw.connection.close();

    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const wire = {
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(started?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(started?.data ?? []).toString('base64'),
        },
      ],
    };
    const anonymous = new Browser(stack.url);
    expect((await anonymous.post('/codec/decode', wire)).status).toBe(403);
    expect((await anonymous.post('/codec/sbagliato/decode', wire)).status).toBe(403);
    const decoded = await anonymous.post(`/codec/${stack.secrets.codecToken}/decode`, wire);
    expect(decoded.status).toBe(200);
    expect(Buffer.from(decoded.body.payloads[0].data, 'base64').toString()).toContain('VISIBILE-SOLO-CON-CHIAVE');
    expect(stack.logLines.join('\n')).not.toContain(stack.secrets.codecToken);
    expect(stack.logLines.join('\n')).toContain('/codec/[redatto]/decode');
    const viaHeader = await anonymous.post('/codec/decode', wire, { authorization: `Bearer ${stack.secrets.codecToken}` });
    expect(viaHeader.body).toEqual(decoded.body);
    const tampered = { payloads: [{ ...wire.payloads[0]!, data: Buffer.from('alterato').toString('base64') }] };
    const refused = await anonymous.post(`/codec/${stack.secrets.codecToken}/decode`, tampered);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('payload_not_decodable');
  });
});
