/**
 * Operator API for the agent registry (admin scope): register, list, show, revoke, and revoke
 * an agent's sessions. Every change follows recordedChange: validated, recorded, then made.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ProfileConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { type AgentIdentity, type KeyInput, type IdentityService, validateAgentId } from '../../identity/index.js';
import type { AuditSink } from '../../pipeline/index.js';
import type { OperatorAuth } from '../operator-auth.js';
import { parseInput } from './parse.js';
import { recordedChange } from './recorded-change.js';

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
    signatureAlgorithm: z.string().max(100).optional(),
    trustLevel: z.string().max(100).optional(),
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
      if (b.profile && !d.profiles()[b.profile]) throw new ClawguardError('bad_request', `profile: no profile named "${b.profile}" (known: ${Object.keys(d.profiles()).join(', ') || 'none'})`);
      const p = identity.registry.prepare({ agentId: b.agentId, publicKey: b.publicKey as KeyInput, ...(b.signatureAlgorithm !== undefined ? { signatureAlgorithm: b.signatureAlgorithm } : {}), ...(b.trustLevel !== undefined ? { trustLevel: b.trustLevel } : {}), ...(b.capabilities ? { capabilities: b.capabilities } : {}), ...(b.profile ? { profile: b.profile } : {}), ...(b.expires !== undefined ? { expires: b.expires } : {}) });
      const a = await recordedChange(
        d.audit,
        { type: 'identity.agent.registered', agentId: p.agentId, subject: op.name, action: 'identity.agent.register', resource: `agent:${p.agentId}`, decision: 'allow', payload: { operator: op.id, fingerprint: p.fingerprint, trustLevel: p.trustLevel, capabilities: p.capabilities, profile: p.profile, expires: p.expires } },
        'registration',
        () => identity.registry.insert(p),
        identity.log,
      );
      return reply.code(201).header('location', `/v1/agents/${encodeURIComponent(a.agentId)}`).send(agentView(a));
    });

    app.delete('/v1/agents/:id', async (req) => {
      const op = auth.require(req, 'admin');
      const id = find(idParam(req.params)).agentId;
      const reason = ((req.query as { reason?: string } | undefined)?.reason ?? `revoked by ${op.name}`).slice(0, 500);
      // Revocation waits for its record like every change: while the log cannot be written every
      // action of every agent is refused anyway, so holding it back leaves nothing open.
      return recordedChange(
        d.audit,
        { type: 'identity.agent.revoked', agentId: id, subject: op.name, action: 'identity.agent.revoke', resource: `agent:${id}`, decision: 'allow', payload: { operator: op.id, reason, sessions: 'all revoked' } },
        'revocation',
        () => {
          const a = identity.registry.revoke(id, reason);
          return { ...agentView(a), sessionsRevoked: identity.sessions.revokeAgent(id) };
        },
        identity.log,
      );
    });

    app.delete('/v1/agents/:id/sessions', async (req) => {
      const op = auth.require(req, 'admin');
      const id = find(idParam(req.params)).agentId;
      return recordedChange(
        d.audit,
        { type: 'identity.session.revoked', agentId: id, subject: op.name, action: 'identity.session.revoke', resource: `agent:${id}`, decision: 'allow', payload: { operator: op.id, sessions: 'all of the agent' } },
        'revocation',
        () => ({ agentId: id, revoked: identity.sessions.revokeAgent(id) }),
        identity.log,
      );
    });
  };
}
