import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';

/** Every error the API answers: {"error": "<code>", "message": "<Italian text>", ...details}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** zod's own Italian messages, for the problems a schema does not word itself: end users read them. */
const italian = z.locales.it().localeError;

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {}, { error: italian });
  if (!result.success) {
    throw new HttpError(400, 'invalid_request', 'Richiesta non valida: controlla i campi indicati.', {
      fields: result.error.issues.map((i) => ({ field: i.path.join('.'), problem: i.message })),
    });
  }
  return result.data;
}

export const notFound: RequestHandler = (_req, _res, next) => {
  next(new HttpError(404, 'not_found', 'Risorsa non trovata.'));
};

export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  if (error instanceof HttpError) {
    res.status(error.status).json({ error: error.code, message: error.message, ...error.details });
    return;
  }
  // Text Postgres cannot store (a NUL byte, an invalid encoding) is bad input, not a failure.
  if (['22021', '22P05'].includes((error as { code?: string })?.code ?? '')) {
    res.status(400).json({ error: 'invalid_request', message: 'Richiesta non valida: il testo contiene caratteri non ammessi.' });
    return;
  }
  // body-parser's own errors: malformed JSON, too large, wrong charset
  const status = typeof error?.status === 'number' ? error.status : 500;
  if (status === 413) {
    res.status(413).json({ error: 'payload_too_large', message: 'Richiesta troppo grande.' });
  } else if (status >= 400 && status < 500) {
    res.status(status).json({ error: 'invalid_request', message: 'Richiesta non leggibile: atteso un corpo JSON valido.' });
  } else {
    req.log?.error({ err: error }, 'errore non gestito');
    res.status(500).json({ error: 'internal_error', message: 'Si è verificato un errore. Riprova più tardi.', requestId: req.id });
  }
};
