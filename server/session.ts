import type { Request, RequestHandler, Response } from 'express';
import { parse as parseCookie } from 'cookie';
import { sameSecret } from './admin.js';
import type { AppContext } from './context.js';
import { HttpError } from './errors.js';
import { sessionId } from '../activities/sessions.js';
import { requiredActions, type RequiredAction } from '../machines/rules/requiredActions.js';

export const SESSION_COOKIE = 'varco_session';

export interface SessionInfo {
  id: string;
  subjectId: string;
  kind: string;
  codiceFiscale: string | null;
  passwordChangedAt: Date;
  requiredActions: RequiredAction[];
}

declare module 'express-serve-static-core' {
  interface Request {
    session?: SessionInfo;
  }
}

/** The CSRF token is a keyed hash of the session: nothing to store, nothing to guess. */
export const csrfTokenFor = (ctx: AppContext, id: string) => ctx.secrets.mac('csrf', id);

/** Only a developer's machine serves plain http:// to a browser. */
const secureCookie = (ctx: AppContext) => ctx.config.env !== 'development';

export function setSessionCookie(ctx: AppContext, res: Response, token: string): void {
  res.cookie(SESSION_COOKIE, token, {
    httpOnly: true,
    secure: secureCookie(ctx),
    sameSite: 'lax',
    path: '/',
    maxAge: ctx.config.session.maxMs,
  });
}

export function clearSessionCookie(ctx: AppContext, res: Response): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, secure: secureCookie(ctx), sameSite: 'lax', path: '/' });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The login needs no token: a client holding an old cookie but no token (after a reload) must
 * be able to log in again, and its body is JSON only, which a cross-site form cannot send.
 */
const isLogin = (req: Request) => req.method === 'POST' && req.baseUrl + req.path === '/api/session';

/**
 * Reads the session cookie, when there is one, into req.session. Sessions end after the idle
 * or absolute limit. A state-changing request made with the cookie must carry the CSRF token
 * in X-CSRF-Token (the login aside): a cross-site form can send the cookie but cannot read the token.
 */
export function loadSession(ctx: AppContext): RequestHandler {
  return async (req, _res, next) => {
    const token = parseCookie(req.headers.cookie ?? '')[SESSION_COOKIE];
    if (!token) return next();
    const id = sessionId(token);
    const { rows } = await ctx.pool.query<{
      subject_id: string; kind: string; codice_fiscale: string | null; must_change: boolean; changed_at: Date; has_channel: boolean; stale: boolean;
    }>(
      `select s.subject_id, subj.kind, subj.codice_fiscale, c.must_change, c.changed_at,
              exists (select 1 from secure_channels sc where sc.subject_id = s.subject_id) as has_channel,
              s.last_seen_at < now() - interval '1 minute' as stale
       from sessions s
       join subjects subj on subj.id = s.subject_id
       join credentials c on c.subject_id = s.subject_id
       where s.id = $1
         and s.last_seen_at > now() - make_interval(secs => $2::double precision / 1000)
         and s.created_at > now() - make_interval(secs => $3::double precision / 1000)`,
      [id, ctx.config.session.idleMs, ctx.config.session.maxMs],
    );
    const row = rows[0];
    if (!row) return next();
    if (!SAFE_METHODS.has(req.method) && !isLogin(req)) {
      const given = req.get('x-csrf-token') ?? '';
      if (!given || !sameSecret(given, csrfTokenFor(ctx, id))) {
        return next(new HttpError(403, 'csrf_invalid', 'Richiesta non autorizzata: ricarica la pagina e riprova.'));
      }
    }
    // One write a minute at most keeps the idle clock honest without a write per request.
    if (row.stale) await ctx.pool.query('update sessions set last_seen_at = now() where id = $1', [id]);
    req.session = {
      id,
      subjectId: row.subject_id,
      kind: row.kind,
      codiceFiscale: row.codice_fiscale,
      passwordChangedAt: row.changed_at,
      requiredActions: requiredActions(
        { mustChange: row.must_change, passwordChangedAt: row.changed_at, hasSecureChannel: row.has_channel },
        ctx.config.password.maxAgeMs,
        new Date(),
      ),
    };
    next();
  };
}

/**
 * Only logged-in subjects pass. While a password change is required, only the routes that
 * let the user change it (or look at the account, or leave) are open.
 */
export function requireSession(options: { whilePasswordChangeRequired?: boolean; whileRegistering?: boolean } = {}): RequestHandler {
  return (req, _res, next) => {
    if (!req.session) throw new HttpError(401, 'unauthenticated', 'Sessione assente o scaduta: accedi di nuovo.');
    const actions = req.session.requiredActions;
    // Registering the channel issues a new first-access password anyway: it comes before the change.
    const exempt = options.whilePasswordChangeRequired || (options.whileRegistering && actions.includes('register_secure_channel'));
    if (!exempt && actions.includes('change_password')) {
      throw new HttpError(403, 'password_change_required', 'Devi cambiare la password prima di continuare.');
    }
    next();
  };
}

export function session(req: Request): SessionInfo {
  if (!req.session) throw new HttpError(401, 'unauthenticated', 'Sessione assente o scaduta: accedi di nuovo.');
  return req.session;
}
