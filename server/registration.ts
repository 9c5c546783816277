import { Router, type Request } from 'express';
import { z } from 'zod';
import { codeHash } from '../activities/codes.js';
import { addressKey, hit } from '../activities/rateLimit.js';
import { registrationInput } from '../activities/registration.js';
import { registration as definition } from '../machines/registration.js';
import { ProcessState } from '../workflows/searchAttributes.js';
import type { AppContext } from './context.js';
import { HttpError, parseBody } from './errors.js';
import { processRoutes } from './process.js';
import { clearSessionCookie, requireSession, session } from './session.js';

const channelChoice = z.object({ channel: z.enum(['email', 'sms']), contactId: z.uuid() });
const code = z.object({ code: z.string().trim().regex(/^\d{6}$/, 'il codice OTP è di 6 cifre') });

/** P1: registration of the secure channel (seed 001), for the logged-in subject. */
export function registrationRouter(ctx: AppContext): Router {
  const router = Router();
  const settings = ctx.config.registration;
  const registration = processRoutes(ctx, {
    definition,
    workflowType: 'registration',
    workflowId: (subjectId) => `registration-${subjectId}`,
    audit: { started: 'registration_started', step: 'registration_step' },
    answers: {
      contact_not_offered: { status: 422, message: 'Il recapito scelto non è tra i tuoi recapiti o non può ricevere questo canale.' },
      registration_failed: { status: 503, message: 'Non è stato possibile completare la registrazione. Riprova tra qualche minuto.' },
      delivery_failed: { status: 502, message: 'Non è stato possibile inviare il codice OTP. Riprova o scegli un altro recapito.' },
      otp_invalid: { status: 422, message: 'Codice OTP errato.', details: ['attemptsLeft'] },
      otp_expired: { status: 410, message: 'Il codice OTP è scaduto: usa RIGENERA OTP per riceverne uno nuovo.' },
      too_many_attempts: { status: 423, message: 'Troppi codici errati: la registrazione è stata annullata. Potrai ricominciarla più tardi.' },
      otp_still_valid: { status: 409, message: 'Il codice OTP inviato è ancora valido: potrai richiederne uno nuovo alla scadenza.', details: ['retryAfter'] },
    },
  });

  // Each request that may send a code costs one from an hourly budget per subject and per
  // address; an address gets ten subjects' worth, since an office may sit behind one NAT.
  const limitCodeRequests = async (subjectId: string, ip: string) => {
    const budgets: Array<[string, number]> = [
      [`otp-requests:subject:${subjectId}`, settings.otpRequestsPerHour],
      [`otp-requests:ip:${addressKey(ip)}`, settings.otpRequestsPerHour * 10],
    ];
    const counts = await Promise.all(budgets.map(([bucket]) => hit(ctx.pool, bucket, 3_600_000)));
    for (const [i, { hits, retryAfter }] of counts.entries()) {
      if (hits > budgets[i]![1]) throw new HttpError(429, 'too_many_requests', 'Troppe richieste di codici OTP. Riprova più tardi.', { retryAfter });
    }
  };

  /**
   * Too many wrong codes lock registration for REGISTRATION_LOCKOUT: a new run would otherwise
   * bring new attempts at once. Read from the latest run's own state, which Temporal keeps,
   * so no crash between its end and an answer can lose the lock.
   */
  const lockedOutForMs = async (req: Request): Promise<number> => {
    const latest = await registration.latest(req);
    if (latest?.typedSearchAttributes.get(ProcessState) !== 'lockedOut') return 0;
    return Math.max(0, (latest.closeTime?.getTime() ?? Date.now()) + settings.lockoutMs - Date.now());
  };

  router.use(requireSession({ whileRegistering: true }));

  router.post('/', async (req, res) => {
    const s = session(req);
    if (!s.requiredActions.includes('register_secure_channel')) {
      throw new HttpError(409, 'already_registered', 'Hai già registrato un canale sicuro.');
    }
    const [lockedMs, input] = await Promise.all([lockedOutForMs(req), registrationInput(ctx.pool, s.subjectId, settings)]);
    if (lockedMs > 0) {
      throw new HttpError(423, 'registration_locked', 'Troppi codici errati: potrai ripetere la registrazione più tardi.', { retryAfter: Math.ceil(lockedMs / 1000) });
    }
    const { started, view } = await registration.start(req, input);
    res.status(started ? 201 : 200).json({ view });
  });

  router.get('/', async (req, res) => {
    res.json({ view: await registration.view(req) });
  });

  router.post('/channel', async (req, res) => {
    const body = parseBody(channelChoice, req.body);
    await limitCodeRequests(session(req).subjectId, req.ip ?? 'unknown');
    const { status, body: out } = await registration.step(req, { type: 'channel.choose', ...body });
    res.status(status).json(out);
  });

  router.post('/otp', async (req, res) => {
    const s = session(req);
    const body = parseBody(code, req.body);
    // Codes typed from one address are bounded too, whichever subjects they are for.
    const fromAddress = await hit(ctx.pool, `otp-attempts:ip:${addressKey(req.ip ?? 'unknown')}`, 3_600_000);
    if (fromAddress.hits > settings.otpRequestsPerHour * settings.otpMaxAttempts * 10) {
      throw new HttpError(429, 'too_many_requests', 'Troppi codici inviati da questo indirizzo. Riprova più tardi.', { retryAfter: fromAddress.retryAfter });
    }
    // Only the keyed hash of what the user typed reaches the workflow.
    const { status, body: out, outcome } = await registration.step(req, { type: 'code.submit', codeHash: codeHash(ctx.secrets, s.subjectId, body.code) });
    // Registering ended every session: the browser's cookie goes too.
    if (outcome.code === 'registered') clearSessionCookie(ctx, res);
    res.status(status).json(out);
  });

  router.post('/otp/regenerate', async (req, res) => {
    await limitCodeRequests(session(req).subjectId, req.ip ?? 'unknown');
    const { status, body: out } = await registration.step(req, { type: 'code.regenerate' });
    res.status(status).json(out);
  });

  return router;
}
