import { timingSafeEqual, createHash } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { audit } from '../activities/audit.js';
import { setPassword } from '../activities/credentials.js';
import { upsertSubject } from '../activities/subjects.js';
import { CODICE_FISCALE_SHAPE, isValidCodiceFiscale, normalizeCodiceFiscale } from '../machines/rules/codiceFiscale.js';
import { checkPassword, describeViolations } from '../machines/rules/passwordPolicy.js';
import type { AppContext } from './context.js';
import { HttpError, parseBody } from './errors.js';

export function sameSecret(given: string, expected: string): boolean {
  // Hashing first gives equal lengths, so the comparison time says nothing about the secret.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function requireBearer(token: string): RequestHandler {
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!given || !sameSecret(given, token)) throw new HttpError(401, 'unauthorized', 'Autorizzazione mancante o non valida.');
    next();
  };
}

const contact = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['email', 'pec']), value: z.email().max(254).transform((v) => v.toLowerCase()), certified: z.boolean().default(false) }),
  z.object({
    kind: z.literal('mobile'),
    value: z.string().regex(/^\+393\d{8,9}$/, 'cellulare italiano in formato E.164, ad esempio +393331234567'),
    certified: z.boolean().default(false),
  }),
]);

const codiceFiscale = z
  .string()
  .transform(normalizeCodiceFiscale)
  .refine(isValidCodiceFiscale, 'codice fiscale non valido (forma o carattere di controllo)');
const name = z.string().trim().min(1).max(100);
// Login takes a matricola, a codice fiscale or a company username in one field: a username
// must not look like the other two (a leading letter already rules out a matricola).
const companyUsername = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9._-]{3,49}$/, 'da 4 a 50 caratteri: lettere, cifre, punto, trattino')
  .refine((v) => !CODICE_FISCALE_SHAPE.test(v.toUpperCase()), 'non può avere la forma di un codice fiscale');
const common = { contacts: z.array(contact).max(10).default([]), initialPassword: z.string().max(256).optional() };

const subjectBody = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['member', 'beneficiary']), codiceFiscale, matricola: z.string().regex(/^\d{1,10}$/).optional(), firstName: name, lastName: name, ...common }),
  z.object({ kind: z.literal('adherent'), codiceFiscale, codiceAderente: z.string().regex(/^[A-Z0-9]{4,20}$/i), firstName: name, lastName: name, ...common }),
  z.object({
    kind: z.literal('company'),
    username: companyUsername,
    companyName: name,
    vatNumber: z.string().regex(/^\d{11}$/, 'partita IVA di 11 cifre'),
    ...common,
  }),
]);

/** POST /api/admin/subjects: the fund's registry pushes a subject, idempotently. */
export function adminRouter(ctx: AppContext): Router {
  const router = Router();
  router.use(requireBearer(ctx.secrets.adminToken));
  router.post('/subjects', async (req, res) => {
    const body = parseBody(subjectBody, req.body);
    const identifiers = [
      'codiceFiscale' in body ? body.codiceFiscale : undefined,
      'matricola' in body ? body.matricola : undefined,
      'username' in body ? body.username : undefined,
    ].filter((v): v is string => Boolean(v));
    if (body.initialPassword !== undefined) {
      const violations = checkPassword({ password: body.initialPassword, identifiers });
      if (violations.length) throw new HttpError(422, 'password_policy', 'La password iniziale non rispetta le regole.', describeViolations(violations));
    }
    const hash = body.initialPassword === undefined ? undefined : await ctx.hasher.hash(body.initialPassword);
    const client = await ctx.pool.connect();
    try {
      await client.query('begin');
      const { id, created } = await upsertSubject(client, body);
      // The registry sets a first password, never replaces one the subject already has.
      const hasPassword = (await client.query('select 1 from credentials where subject_id = $1', [id])).rowCount === 1;
      const initialPassword = hash && !hasPassword ? 'set' : hash ? 'ignored' : 'none';
      if (hash && !hasPassword) await setPassword(client, id, hash, true);
      await audit(client, { subjectId: id, event: 'subject_provisioned', ip: req.ip, requestId: String(req.id), details: { created, kind: body.kind, initialPassword } });
      await client.query('commit');
      res.status(created ? 201 : 200).json({ id });
    } catch (error) {
      await client.query('rollback');
      if ((error as { code?: string }).code === '23505') {
        throw new HttpError(409, 'identifier_taken', 'Matricola, codice aderente o nome utente già assegnati a un altro soggetto.');
      }
      throw error;
    } finally {
      client.release();
    }
  });
  return router;
}
