import { randomUUID } from 'node:crypto';
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { accountRouter } from './account.js';
import { adminRouter } from './admin.js';
import { codecRouter } from './codec.js';
import type { AppContext } from './context.js';
import { devRouter } from './dev.js';
import { errorHandler, notFound } from './errors.js';
import { registrationRouter } from './registration.js';
import { loadSession } from './session.js';

const logPath = (url: string) => url.split('?')[0]!.replace(/^\/codec\/[^/]+(?=\/(?:en|de)code$)/, '/codec/[redatto]');

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-For is believed only from the proxies named in TRUST_PROXY (the fund's load
  // balancer): anyone else could pick the address that per-address limits count.
  app.set('trust proxy', ctx.config.trustProxy);
  app.use(helmet());
  app.use(
    pinoHttp({
      logger: ctx.logger,
      genReqId: (req, res) => {
        const id = randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      // The path only: no query string, and the codec token that may sit in it is masked.
      serializers: { req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: logPath(req.url) }) },
    }),
  );

  app.get('/healthz', async (_req, res) => {
    const checks = await Promise.allSettled([ctx.pool.query('select 1'), ctx.temporal.connection.workflowService.getSystemInfo({})]);
    const [postgres, temporal] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    res.status(postgres === 'ok' && temporal === 'ok' ? 200 : 503).json({ postgres, temporal });
  });
  app.use('/codec/:token', codecRouter(ctx));
  app.use('/codec', codecRouter(ctx));

  app.use('/api', express.json({ limit: '32kb', strict: true }));
  app.use('/api/admin', adminRouter(ctx));
  app.use('/api', loadSession(ctx));
  app.use('/api', accountRouter(ctx));
  app.use('/api/registration', registrationRouter(ctx));
  // A developer's mailbox holds codes and passwords: only on a loopback-only dev server.
  if (ctx.captures && ctx.config.env !== 'production' && ['127.0.0.1', '::1', 'localhost'].includes(ctx.config.host)) {
    app.use('/api/dev', devRouter(ctx.captures));
  }

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
