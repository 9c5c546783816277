import { Router, type Response } from 'express';
import { z } from 'zod';
import { changePassword, generatePin, profile, secureChannelOf, type AccountDeps } from '../activities/account.js';
import { audit } from '../activities/audit.js';
import { authenticate } from '../activities/login.js';
import { hit } from '../activities/rateLimit.js';
import { sessionId } from '../activities/sessions.js';
import { describeViolations } from '../machines/rules/passwordPolicy.js';
import { passwordExpiresAt, requiredActions } from '../machines/rules/requiredActions.js';
import type { AppContext } from './context.js';
import { HttpError, parseBody } from './errors.js';
import { clearSessionCookie, csrfTokenFor, requireSession, session, setSessionCookie } from './session.js';

const credentials = z.object({
  username: z.string().trim().min(1, 'obbligatorio').max(64),
  password: z.string().min(1, 'obbligatoria').max(256),
});

const passwordChange = z.object({
  currentPassword: z.string().min(1).max(256),
  newPassword: z.string().min(1).max(256),
  confirmPassword: z.string().max(256),
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function locked(res: Response, retryAfter: number): HttpError {
  res.set('retry-after', String(retryAfter));
  return new HttpError(423, 'account_locked', 'Accesso temporaneamente bloccato per troppi tentativi errati. Riprova più tardi.', { retryAfter });
}

/** P0: login, logout, profile, password change and PIN dispositivo. */
export function accountRouter(ctx: AppContext): Router {
  const router = Router();
  const { login } = ctx.config;
  const policy = { lockAfter: login.lockAfter, lockForMs: login.lockForMs, delayBaseMs: login.delayBaseMs, delayMaxMs: login.delayMaxMs };
  const deps: AccountDeps = { pool: ctx.pool, hasher: ctx.hasher, outbox: ctx.outbox, policy };
  const requestOf = (req: { ip?: string; id: unknown }) => ({ ip: req.ip ?? 'unknown', requestId: String(req.id) });

  router.post('/session', async (req, res) => {
    const body = parseBody(credentials, req.body);
    const result = await authenticate(
      { pool: ctx.pool, hasher: ctx.hasher, policy, ip: { maxFailures: login.ipMaxFailures, windowMs: login.ipWindowMs } },
      { ...body, ...requestOf(req), userAgent: req.get('user-agent') },
    );
    if (!result.ok) {
      if (result.reason === 'too_many_requests') {
        res.set('retry-after', String(result.retryAfter));
        throw new HttpError(429, 'too_many_requests', 'Troppi tentativi da questo indirizzo. Riprova più tardi.', { retryAfter: result.retryAfter });
      }
      if (result.reason === 'account_locked') throw locked(res, result.retryAfter);
      await wait(result.delayMs);
      throw new HttpError(401, 'invalid_credentials', 'Nome utente o password non corretti.');
    }
    setSessionCookie(ctx, res, result.token);
    const id = sessionId(result.token);
    res.json({
      subject: { id: result.subject.id, kind: result.subject.kind, displayName: result.subject.displayName },
      requiredActions: requiredActions(result.account, ctx.config.password.maxAgeMs, new Date()),
      csrfToken: csrfTokenFor(ctx, id),
    });
  });

  router.delete('/session', requireSession({ whilePasswordChangeRequired: true }), async (req, res) => {
    const s = session(req);
    await ctx.pool.query('delete from sessions where id = $1', [s.id]);
    await audit(ctx.pool, { ...requestOf(req), subjectId: s.subjectId, event: 'logout' });
    clearSessionCookie(ctx, res);
    res.status(204).end();
  });

  router.get('/me', requireSession({ whilePasswordChangeRequired: true }), async (req, res) => {
    const s = session(req);
    res.json({
      ...(await profile(ctx.pool, s.subjectId)),
      passwordExpiresAt: passwordExpiresAt(s.passwordChangedAt, ctx.config.password.maxAgeMs).toISOString(),
      requiredActions: s.requiredActions,
      csrfToken: csrfTokenFor(ctx, s.id),
    });
  });

  router.post('/me/password', requireSession({ whilePasswordChangeRequired: true }), async (req, res) => {
    const s = session(req);
    const body = parseBody(passwordChange, req.body);
    const result = await changePassword(deps, s.subjectId, s.id, body, requestOf(req));
    if (result.ok) {
      res.status(204).end();
      return;
    }
    switch (result.reason) {
      case 'current_password_invalid':
        await wait(result.delayMs);
        throw new HttpError(422, 'current_password_invalid', 'La password attuale non è corretta.');
      case 'account_locked':
        clearSessionCookie(ctx, res);
        throw locked(res, result.retryAfter);
      case 'password_policy':
        throw new HttpError(422, 'password_policy', 'La nuova password non rispetta le regole.', describeViolations(result.violations));
    }
  });

  router.post('/me/pin', requireSession(), async (req, res) => {
    const s = session(req);
    // Checked first: a request that cannot send a PIN does not spend the budget.
    const channel = await secureChannelOf(ctx.pool, s.subjectId);
    if (!channel) throw new HttpError(409, 'secure_channel_required', 'Per ricevere il PIN dispositivo registra prima un canale sicuro.');
    // Each PIN is a message to the subject and voids the previous one: a budget per hour.
    const { hits, retryAfter } = await hit(ctx.pool, `pin-requests:${s.subjectId}`, 3_600_000);
    if (hits > ctx.config.pinRequestsPerHour) {
      res.set('retry-after', String(retryAfter));
      throw new HttpError(429, 'too_many_requests', 'Troppe richieste di un nuovo PIN. Riprova più tardi.', { retryAfter });
    }
    const result = await generatePin(deps, s.subjectId, channel, requestOf(req));
    if (!result.ok) throw new HttpError(502, 'delivery_failed', 'Non è stato possibile inviare il nuovo PIN. Riprova tra qualche minuto.');
    res.status(202).json({ deliveredTo: { channel: result.channel, masked: result.masked } });
  });

  return router;
}
