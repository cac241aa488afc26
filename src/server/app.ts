/** The HTTP surface (fastify): health, metrics, status, runs. Errors are JSON, never a stack. */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isAuthenticated, markAuthenticated, RejectionAuditor } from '../audit/index.js';
import { ClawguardError, errorShape } from '../errors/index.js';
import type { Metrics } from '../monitor/index.js';
import type { AuditSink } from '../pipeline/index.js';
import type { RunManager } from '../runtime/index.js';
import type { Connections } from './connections.js';
import { toErrorBody } from './error-map.js';
import { type HealthDeps, registerHealthRoutes } from './health.js';
import { parseJsonBody } from './json-body.js';
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
  /** Where every 5xx is logged with its cause (fastify's own logger is off). */
  log?: Pick<Logger, 'error' | 'warn'>;
  /** What /healthz and /readyz report. */
  health?: HealthDeps;
  /** Told about every error a request met, so a store fault shows in readiness. */
  onError?: (e: unknown) => void;
  /** Connection tracking for shutdown. */
  connections?: Connections;
}

/** The error a request's 5xx came from, for the log line written when the answer goes out. */
const causes = new WeakMap<FastifyRequest, unknown>();

export function buildApp(d: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: d.bodyLimitBytes,
    ...(d.https ? { https: { key: d.https.key, cert: d.https.cert, minVersion: 'TLSv1.3' as const } } : {}),
    // Requests during shutdown are answered by Connections, in our own error shape.
    return503OnClosing: !d.connections,
  }) as unknown as FastifyInstance;

  // Bodies are bounded at the edge: nothing reaches a handler that later code cannot handle.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      if (body === '') throw new ClawguardError('invalid_json', 'the request body is empty but content-type is application/json');
      done(null, parseJsonBody(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  app.setErrorHandler(async (err, req, reply) => {
    // An operator refusal is answered only once its audit record is durable.
    await d.auth.settled(req);
    d.onError?.(err);
    const { status, body, retryAfter } = toErrorBody(err);
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    if (status >= 500) causes.set(req, err);
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
      if (reply.statusCode >= 400 && (req.routeOptions?.config as { rejectionAudit?: boolean } | undefined)?.rejectionAudit !== false && !r.recorded()) {
        // A request refused before anything checked its credential (a 404, a malformed body) is an
        // operator's when it carries a valid operator token: recorded on its own, not aggregated.
        if (!isAuthenticated() && d.auth.identify(req)) markAuthenticated();
        await r.record({ method: req.method, path: req.url.split('?')[0]!, status: reply.statusCode, ...RejectionAuditor.errorOf(payload), ...(req.routeOptions?.url ? { route: req.routeOptions.url } : {}), ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}) });
      }
      return payload;
    });
  }
  d.connections?.register(app);
  if (d.log) {
    const log = d.log;
    // Every 5xx, whether thrown or answered by a handler (a pipeline result, shutdown), with its cause.
    app.addHook('onSend', async (req, reply, payload) => {
      if (reply.statusCode >= 500 && (req.routeOptions?.config as { rejectionAudit?: boolean } | undefined)?.rejectionAudit !== false) {
        const cause = causes.get(req);
        const answered = RejectionAuditor.errorOf(payload);
        const line = { event: 'http.error', status: reply.statusCode, method: req.method, route: req.routeOptions?.url ?? req.url.split('?')[0], code: answered.code, message: answered.message, ...(cause !== undefined ? { err: describe(cause) } : {}) };
        if (reply.statusCode === 500) log.error(line, `request failed: ${answered.code ?? reply.statusCode}`);
        else log.warn(line, `request refused: ${answered.code ?? reply.statusCode}`);
      }
      return payload;
    });
  }
  if (d.https) {
    app.addHook('onSend', async (_req, reply) => {
      void reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    });
  }

  if (d.health) registerHealthRoutes(app, d.health);
  else app.get('/healthz', async () => ({ status: 'ok' }));

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

/** An error as a log line keeps it: message, code, stack, and the chain of causes. */
function describe(e: unknown, depth = 0): Record<string, unknown> {
  const { code, message } = errorShape(e);
  const x = e as { code?: unknown; stack?: unknown; cause?: unknown; name?: unknown };
  return {
    name: typeof x?.name === 'string' ? x.name : typeof e,
    code: typeof x?.code === 'string' ? x.code : code,
    message,
    ...(typeof x?.stack === 'string' ? { stack: x.stack } : {}),
    ...(x?.cause !== undefined && depth < 3 ? { cause: describe(x.cause, depth + 1) } : {}),
  };
}
