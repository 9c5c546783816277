import { Router } from 'express';
import type { Captures } from '../runtime/captures.js';

/** Mounted only while the local captures stand in for SMTP and Twilio: a developer's mailbox. */
export function devRouter(captures: Captures): Router {
  const router = Router();
  router.get('/outbox', (req, res) => {
    const to = typeof req.query.to === 'string' ? req.query.to : undefined;
    res.json({ messages: captures.list(to) });
  });
  return router;
}
