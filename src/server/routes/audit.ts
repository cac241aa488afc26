/** Operator API of the audit log and the policy decision point. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AuditLog, buildInclusionProof, readEvents, stateDirPublicKey, verifyWithWitnesses } from '../../audit/index.js';
import { ClawguardError, httpStatusOf } from '../../errors/index.js';
import { buildExplainRequest, type CedarDecisionPoint, explainInput, type ReloadResult } from '../../policy/index.js';
import type { ProfileConfig } from '../../config/index.js';
import type { OperatorAuth } from '../operator-auth.js';
import { parseInput } from './parse.js';

const eventsQuery = z
  .object({
    afterSeq: z.coerce.number().int().min(0).optional(),
    since: z.string().refine((s) => Number.isFinite(Date.parse(s)), 'expected an ISO 8601 time').optional(),
    type: z.string().min(1).max(100).optional(),
    runId: z.string().min(1).max(200).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();


export interface AuditRouteDeps {
  audit: AuditLog;
  pdp: CedarDecisionPoint;
  auth: OperatorAuth;
  stateDir: string;
  profiles: () => Record<string, ProfileConfig>;
  /** The one entry point for a reload: recorded first, refused if it cannot be. */
  reloadPolicies: (subject: string) => Promise<ReloadResult>;
}

export function registerAuditRoutes(app: FastifyInstance, d: AuditRouteDeps): void {
  const db = () => {
    const x = d.audit.database;
    if (!x) throw new ClawguardError('audit_unavailable', String(d.audit.status().reason ?? 'the audit store is unavailable'));
    return x;
  };

  app.get('/v1/audit/verify', async (req) => {
    d.auth.require(req, 'read');
    db();
    const own = stateDirPublicKey(d.stateDir);
    return verifyWithWitnesses({ file: d.audit.file }, d.audit.witnesses, { ...(own.key ? { publicKey: own.key, keySource: 'state dir' } : {}), ...(own.problem ? { keyProblem: own.problem } : {}) });
  });

  app.get('/v1/audit/events', async (req) => {
    d.auth.require(req, 'read');
    const q = parseInput(eventsQuery, req.query, 'query');
    return { events: readEvents(db(), { ...q, ...(q.since ? { since: new Date(q.since).toISOString() } : {}), limit: q.limit ?? 100 }) };
  });

  app.get('/v1/audit/proof/:seq', async (req) => {
    d.auth.require(req, 'read');
    const seq = Number((req.params as { seq?: string }).seq);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new ClawguardError('bad_request', `seq must be a positive integer, got ${JSON.stringify((req.params as { seq?: string }).seq)}`);
    const s = d.audit.status() as { lastCheckpoint: { treeSize: number } | null };
    if (!s.lastCheckpoint || s.lastCheckpoint.treeSize < seq) d.audit.checkpointNow();
    return buildInclusionProof(db(), seq);
  });

  app.get('/v1/policy', async (req) => {
    d.auth.require(req, 'read');
    return { status: d.pdp.status(), policies: d.pdp.policies() };
  });

  app.post('/v1/policy/reload', async (req, reply) => {
    const op = d.auth.require(req, 'write');
    const r = await d.reloadPolicies(op.name);
    return reply.code(r.ok ? 200 : httpStatusOf('policy_invalid')).send(r.ok ? r : { error: { code: 'policy_invalid', message: `the policies were not reloaded (the previous set stays in force): ${r.errors.join('; ')}` }, ...r });
  });

  app.post('/v1/policy/explain', async (req) => {
    d.auth.require(req, 'read');
    const input = parseInput(explainInput, req.body, 'body');
    const { req: areq, ctx } = buildExplainRequest(input, d.profiles());
    const e = d.pdp.explain(areq, ctx);
    return { decision: e.effect, tier: e.tier, policies: e.policies, reasons: e.reasons };
  });
}
