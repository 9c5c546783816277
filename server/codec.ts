import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { EncryptionCodec } from '../runtime/codec.js';
import type { AppContext } from './context.js';
import { sameSecret } from './admin.js';
import { HttpError, parseBody } from './errors.js';

const wirePayloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).default({}), data: z.string().default('') })).max(1000),
});

type WirePayload = z.infer<typeof wirePayloads>['payloads'][number];

const fromWire = (p: WirePayload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data, 'base64'),
});

const toWire = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

/**
 * Temporal's codec-server protocol, so an operator's Temporal UI can show decrypted payloads.
 * The token comes in the path (the UI's --ui-codec-endpoint carries it) or as a Bearer header.
 */
export function codecRouter(ctx: AppContext): Router {
  const codec = new EncryptionCodec(ctx.secrets.keyring);
  const router = Router({ mergeParams: true });
  router.use((req, res, next) => {
    res.set({
      'access-control-allow-origin': req.get('origin') ?? '*',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type, x-namespace, authorization',
      'access-control-allow-credentials': 'true',
      vary: 'origin',
    });
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });
  const authorize = (req: Request) => {
    const header = req.get('authorization') ?? '';
    const given = (req.params as { token?: string }).token ?? (header.startsWith('Bearer ') ? header.slice(7) : '');
    if (!given || !sameSecret(given, ctx.secrets.codecToken)) throw new HttpError(403, 'forbidden', 'Accesso al codec non autorizzato.');
  };
  for (const direction of ['encode', 'decode'] as const) {
    // The token is checked before the body is even parsed.
    router.post(`/${direction}`, (req, _res, next) => (authorize(req), next()), express.json({ limit: '4mb' }), async (req, res) => {
      const { payloads } = parseBody(wirePayloads, req.body);
      let result;
      try {
        result = await codec[direction](payloads.map(fromWire));
      } catch {
        throw new HttpError(400, 'payload_not_decodable', 'Payload non decifrabile: chiave sconosciuta o dati alterati.');
      }
      res.json({ payloads: result.map(toWire) });
    });
  }
  return router;
}
