/**
 * Operator API for the agent registry (admin scope): register, list, show, revoke, and revoke
 * an agent's sessions. Grants are audited before they take effect (refused if the audit record
 * cannot be written); revocations always take effect, then are audited.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ProfileConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { type AgentIdentity, importPublicKey, type KeyInput, keyThumbprint, type IdentityService, validateAgentId } from '../../identity/index.js';
import type { AuditSink } from '../../pipeline/index.js';
import type { OperatorAuth } from '../operator-auth.js';
import { parseInput } from './parse.js';

export interface AgentRouteDeps {
  identity: IdentityService;
  auth: OperatorAuth;
  audit: () => AuditSink;
  profiles: () => Record<string, ProfileConfig>;
}

const registerBody = z
  .object({
    agentId: z.string(),
    publicKey: z.union([z.string().min(1).max(10_000), z.object({ kty: z.string(), crv: z.string(), x: z.string() }).passthrough()]),
    signatureAlgorithm: z.string().optional(),
    trustLevel: z.string().optional(),
    capabilities: z.array(z.string()).max(256).optional(),
    profile: z.string().min(1).max(200).optional(),
    expires: z.union([z.string(), z.number()]).optional(),
  })
  .strict();


/** The registry record as the API shows it (the public key is public). */
export function agentView(a: AgentIdentity): Record<string, unknown> {
  return { ...a };
}

export function registerAgentRoutes(d: AgentRouteDeps): (app: FastifyInstance) => void {
  const { identity, auth } = d;
  const idParam = (p: unknown) => validateAgentId((p as { id?: string }).id);
  const find = (id: string) => {
    const a = identity.registry.get(id);
    if (!a) throw new ClawguardError('not_found', `no agent "${id}"`);
    return a;
  };
  return (app) => {
    app.get('/v1/agents', async (req) => {
      auth.require(req, 'admin');
      return { agents: identity.registry.list().map(agentView) };
    });

    app.get('/v1/agents/:id', async (req) => {
      auth.require(req, 'admin');
      return agentView(find(idParam(req.params)));
    });

    app.post('/v1/agents', async (req, reply) => {
      const op = auth.require(req, 'admin');
      const b = parseInput(registerBody, req.body);
      validateAgentId(b.agentId);
      if (b.profile && !d.profiles()[b.profile]) throw new ClawguardError('bad_request', `profile: no profile named "${b.profile}" (known: ${Object.keys(d.profiles()).join(', ') || 'none'})`);
      if (identity.registry.get(b.agentId)) throw new ClawguardError('conflict', `agent "${b.agentId}" is already registered (ids are never reused, even after revocation)`);
      const fingerprint = keyThumbprint(importPublicKey(b.publicKey as KeyInput, 'publicKey'));
      try {
        await d.audit().record({ type: 'identity.agent.registered', agentId: b.agentId, subject: op.name, action: 'identity.agent.register', resource: `agent:${b.agentId}`, decision: 'allow', payload: { operator: op.id, fingerprint, trustLevel: b.trustLevel ?? 'limited', capabilities: b.capabilities ?? [], profile: b.profile ?? null, expires: b.expires ?? null } });
      } catch (e) {
        throw new ClawguardError('audit_unavailable', `registration refused: the audit record could not be written (${(e as Error).message})`);
      }
      const a = identity.registry.register({ agentId: b.agentId, publicKey: b.publicKey as KeyInput, ...(b.signatureAlgorithm ? { signatureAlgorithm: b.signatureAlgorithm } : {}), ...(b.trustLevel ? { trustLevel: b.trustLevel } : {}), ...(b.capabilities ? { capabilities: b.capabilities } : {}), ...(b.profile ? { profile: b.profile } : {}), ...(b.expires !== undefined ? { expires: b.expires } : {}) });
      return reply.code(201).header('location', `/v1/agents/${encodeURIComponent(a.agentId)}`).send(agentView(a));
    });

    app.delete('/v1/agents/:id', async (req) => {
      const op = auth.require(req, 'admin');
      const id = idParam(req.params);
      const reason = (req.query as { reason?: string } | undefined)?.reason;
      const a = identity.registry.revoke(id, reason ?? `revoked by ${op.name}`);
      const sessions = identity.sessions.revokeAgent(id);
      await d.audit().record({ type: 'identity.agent.revoked', agentId: id, subject: op.name, action: 'identity.agent.revoke', resource: `agent:${id}`, decision: 'allow', payload: { operator: op.id, reason: a.revokedReason ?? null, sessionsRevoked: sessions } }).catch((e: Error) => identity.log.error({ err: e.message, agentId: id }, 'audit of an agent revocation failed'));
      return { ...agentView(a), sessionsRevoked: sessions };
    });

    app.delete('/v1/agents/:id/sessions', async (req) => {
      const op = auth.require(req, 'admin');
      const id = find(idParam(req.params)).agentId;
      const revoked = identity.sessions.revokeAgent(id);
      await d.audit().record({ type: 'identity.session.revoked', agentId: id, subject: op.name, action: 'identity.session.revoke', resource: `agent:${id}`, decision: 'allow', payload: { operator: op.id, tokens: revoked } }).catch((e: Error) => identity.log.error({ err: e.message, agentId: id }, 'audit of a session revocation failed'));
      return { agentId: id, revoked };
    });
  };
}
