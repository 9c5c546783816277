import { Router, type Request } from 'express';
import { z } from 'zod';
import { audit } from '../activities/audit.js';
import { codeHash } from '../activities/codes.js';
import { hit } from '../activities/rateLimit.js';
import { findSubject, listContacts, masked } from '../activities/subjects.js';
import type { RegistrationInput } from '../machines/registration.js';
import type { AppContext } from './context.js';
import { HttpError, parseBody } from './errors.js';
import type { StepEvent } from '../workflows/host.js';
import { answer, readView, sendStep, type OutcomeAnswer } from './process.js';
import { clearSessionCookie, requireSession, session } from './session.js';

const answers: Record<string, OutcomeAnswer> = {
  accepted: { status: 200, message: '' },
  registered: { status: 200, message: '' },
  contact_not_offered: { status: 422, message: 'Il recapito scelto non è tra i tuoi recapiti o non può ricevere questo canale.' },
  delivery_failed: { status: 502, message: 'Non è stato possibile inviare il codice OTP. Riprova o scegli un altro recapito.' },
  otp_invalid: { status: 422, message: 'Codice OTP errato.', details: ['attemptsLeft'] },
  otp_expired: { status: 410, message: 'Il codice OTP è scaduto: usa RIGENERA OTP per riceverne uno nuovo.' },
  too_many_attempts: { status: 423, message: 'Troppi codici errati: la registrazione è stata annullata. Potrai ricominciarla più tardi.' },
  otp_still_valid: { status: 409, message: 'Il codice OTP inviato è ancora valido: potrai richiederne uno nuovo alla scadenza.', details: ['retryAfter'] },
};

const channelChoice = z.object({ channel: z.enum(['email', 'sms']), contactId: z.uuid() });
const code = z.object({ code: z.string().trim().regex(/^\d{6}$/, 'il codice OTP è di 6 cifre') });

/** P1: registration of the secure channel (seed 001), for the logged-in subject. */
export function registrationRouter(ctx: AppContext): Router {
  const router = Router();
  const settings = ctx.config.registration;
  const workflowId = (subjectId: string) => `registration-${subjectId}`;
  const handleFor = (subjectId: string) => ctx.temporal.workflow.getHandle(workflowId(subjectId));

  // Each request that may send a code costs one from an hourly budget per subject and per
  // address; an address gets ten subjects' worth, since an office may sit behind one NAT.
  const limitCodeRequests = async (subjectId: string, ip: string) => {
    const budgets: Array<[string, number]> = [
      [`otp-requests:subject:${subjectId}`, settings.otpRequestsPerHour],
      [`otp-requests:ip:${ip}`, settings.otpRequestsPerHour * 10],
    ];
    for (const [bucket, limit] of budgets) {
      const { hits, retryAfter } = await hit(ctx.pool, bucket, 3_600_000);
      if (hits > limit) {
        throw new HttpError(429, 'too_many_requests', 'Troppe richieste di codici OTP. Riprova più tardi.', { retryAfter });
      }
    }
  };

  // Every step and its outcome is a security event: wrong codes and lockouts above all.
  const step = async (req: Request, event: StepEvent) => {
    const s = session(req);
    const result = await sendStep(handleFor(s.subjectId), event);
    await audit(ctx.pool, {
      subjectId: s.subjectId,
      event: 'registration_step',
      ip: req.ip,
      requestId: String(req.id),
      details: { step: event.type, outcome: result.outcome.code, state: result.view.state },
    });
    return result;
  };

  router.use(requireSession({ whileRegistering: true }));

  router.post('/', async (req, res) => {
    const s = session(req);
    if (!s.requiredActions.includes('register_secure_channel')) {
      throw new HttpError(409, 'already_registered', 'Hai già registrato un canale sicuro.');
    }
    const subject = await findSubject(ctx.pool, s.subjectId);
    const contacts = (await listContacts(ctx.pool, s.subjectId)).map(masked);
    const input: RegistrationInput = {
      subjectId: s.subjectId,
      codiceFiscale: subject?.codiceFiscale ?? null,
      contacts: contacts.map(({ id, kind, masked: m }) => ({ id, kind, masked: m })),
      settings: { otpTtlMs: settings.otpTtlMs, otpMaxAttempts: settings.otpMaxAttempts, idleMs: settings.idleMs },
    };
    const handle = await ctx.temporal.workflow.start('registration', {
      workflowId: workflowId(s.subjectId),
      taskQueue: ctx.config.temporal.taskQueue,
      args: [input],
      // A double click, or a second tab, finds the registration already running.
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    const view = await readView(handle);
    await audit(ctx.pool, { subjectId: s.subjectId, event: 'registration_started', ip: req.ip, requestId: String(req.id), details: { state: view.state } });
    res.status(201).json({ view });
  });

  router.get('/', async (req, res) => {
    res.json({ view: await readView(handleFor(session(req).subjectId)) });
  });

  router.post('/channel', async (req, res) => {
    const s = session(req);
    const body = parseBody(channelChoice, req.body);
    await limitCodeRequests(s.subjectId, req.ip ?? 'unknown');
    const { status, body: out } = answer(await step(req, { type: 'channel.choose', ...body }), answers);
    res.status(status).json(out);
  });

  router.post('/otp', async (req, res) => {
    const s = session(req);
    const body = parseBody(code, req.body);
    // Only the keyed hash of what the user typed reaches the workflow.
    const result = await step(req, { type: 'code.submit', codeHash: codeHash(ctx.secrets, s.subjectId, body.code) });
    const { status, body: out } = answer(result, answers);
    if (result.outcome.code === 'registered') clearSessionCookie(ctx, res);
    res.status(status).json(out);
  });

  router.post('/otp/regenerate', async (req, res) => {
    const s = session(req);
    const handle = handleFor(s.subjectId);
    const view = await readView(handle);
    if (view.nextSteps.includes('code.regenerate') && view.state === 'codeExpired') await limitCodeRequests(s.subjectId, req.ip ?? 'unknown');
    const { status, body: out } = answer(await step(req, { type: 'code.regenerate' }), answers);
    res.status(status).json(out);
  });

  return router;
}
