/** The HTTP surface (fastify): health, metrics, status, runs. Errors are JSON, never a stack. */
import Fastify, { type FastifyInstance } from 'fastify';
import { RejectionAuditor } from '../audit/index.js';
import type { Metrics } from '../monitor/index.js';
import type { AuditSink } from '../pipeline/index.js';
import type { RunManager } from '../runtime/index.js';
import { toErrorBody } from './error-map.js';
import { isLoopback, type OperatorAuth } from './operator-auth.js';
import { registerRunRoutes } from './routes/runs.js';

export interface AppDeps {
  runs: RunManager;
  metrics: Metrics;
  auth: OperatorAuth;
  bodyLimitBytes: number;
  metricsPublic: boolean;
  status: () => Record<string, unknown>;
  https?: { key: Buffer; cert: Buffer };
  /** Extra routes from other modules (identity, tools, audit…), registered after the core ones. */
  plugins?: Array<(app: FastifyInstance) => void>;
  /** Where operator actions on runs are recorded. */
  audit?: () => AuditSink;
  /** Every response >= 400 that left no audit event of its own gets exactly one (audit module). */
  rejections?: RejectionAuditor;
}

export function buildApp(d: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: d.bodyLimitBytes,
    ...(d.https ? { https: { key: d.https.key, cert: d.https.cert, minVersion: 'TLSv1.3' as const } } : {}),
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  app.setErrorHandler(async (err, req, reply) => {
    // An operator refusal is answered only once its audit record is durable.
    await d.auth.settled(req);
    const { status, body, retryAfter } = toErrorBody(err);
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    if (status >= 500 && status !== 503 && status !== 502) req.log.error({ err }, 'unhandled error');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
  app.addHook('onResponse', async (req, reply) => {
    d.metrics.httpRequestsTotal.inc({ route: req.routeOptions?.url ?? 'unmatched', status: String(reply.statusCode) });
  });
  if (d.rejections) {
    const r = d.rejections;
    app.addHook('onRequest', (_req, _reply, done) => r.begin(done));
    app.addHook('onSend', async (req, reply, payload) => {
      if (reply.statusCode >= 400 && !r.recorded()) {
        await r.record({ method: req.method, path: req.url.split('?')[0]!, status: reply.statusCode, ...RejectionAuditor.errorOf(payload), ...(req.routeOptions?.url ? { route: req.routeOptions.url } : {}), ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}) });
      }
      return payload;
    });
  }
  if (d.https) {
    app.addHook('onSend', async (_req, reply) => {
      void reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    });
  }

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/metrics', async (req, reply) => {
    // Open on loopback (as the seed's `curl :18789/metrics` expects); elsewhere an operator token is needed.
    if (!(d.metricsPublic && isLoopback(req.socket.remoteAddress))) d.auth.require(req, 'read');
    void reply.header('content-type', d.metrics.contentType);
    return d.metrics.text();
  });

  app.get('/v1/status', async (req) => {
    d.auth.require(req, 'read');
    return d.status();
  });

  registerRunRoutes(app, { runs: d.runs, auth: d.auth, ...(d.audit ? { audit: d.audit } : {}) });
  for (const p of d.plugins ?? []) p(app);
  return app;
}
