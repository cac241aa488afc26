/**
 * Liveness and readiness, both open and cheap: they read state other parts keep (the audit log's
 * status, the store probe's last result, the PDP's status), so answering never touches a lock.
 * /healthz: the process answers (200), and says what is degraded while something makes every
 * action fail. /readyz: 503 with the reasons while audit or store cannot be written (or no policy
 * set is in force, or the gateway is shutting down), so a load balancer sends traffic elsewhere.
 */
import type { FastifyInstance } from 'fastify';

interface ComponentStatus {
  ok: boolean;
  reason?: unknown;
}

export interface HealthDeps {
  audit: () => ComponentStatus;
  store: () => ComponentStatus;
  policy: () => ComponentStatus;
  /** Run endings not yet durable (the store refused them): retried, and readiness says so meanwhile. */
  runs?: () => ComponentStatus;
  shuttingDown: () => boolean;
}

/** What keeps the gateway from serving, by component; empty when nothing does. */
export function degraded(d: HealthDeps): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (name: string, s: ComponentStatus, what: string) => {
    if (!s.ok) out[name] = typeof s.reason === 'string' && s.reason ? s.reason : what;
  };
  add('audit', d.audit(), 'the audit log cannot be written');
  add('store', d.store(), 'the store cannot be written');
  add('policy', d.policy(), 'no policy set is in force');
  if (d.runs) add('runs', d.runs(), 'run endings are waiting to be stored');
  if (d.shuttingDown()) out.gateway = 'shutting down';
  return out;
}

export function registerHealthRoutes(app: FastifyInstance, d: HealthDeps): void {
  // A probe's answer is not a refused request: no audit record for it.
  const config = { rejectionAudit: false };
  app.get('/healthz', { config }, async () => {
    const bad = degraded(d);
    return Object.keys(bad).length === 0 ? { status: 'ok' } : { status: 'degraded', degraded: bad };
  });
  app.get('/readyz', { config }, async (_req, reply) => {
    const bad = degraded(d);
    if (Object.keys(bad).length === 0) return { status: 'ready' };
    const why = Object.entries(bad).map(([k, v]) => `${k}: ${v}`).join('; ');
    return reply.code(503).send({ status: 'not_ready', reasons: bad, error: { code: 'unavailable', message: `not ready: ${why}` } });
  });
}
