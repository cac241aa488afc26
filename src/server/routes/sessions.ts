/**
 * Session tokens for agents that cannot sign every request. POST /v1/sessions needs a signed
 * request; rotation and revocation are done with the token itself. Refused with signAllRequests.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClawguardError } from '../../errors/index.js';
import type { AuthOutcome } from '../../identity/index.js';
import type { AuditSink } from '../../pipeline/index.js';
import { agentRequest, agentScope, type AgentDoorDeps } from './agent-tools.js';

export interface SessionRouteDeps extends AgentDoorDeps {
  audit: () => AuditSink;
}

export function registerSessionRoutes(d: SessionRouteDeps): (app: FastifyInstance) => void {
  const { identity } = d;
  const refuseIfDisabled = async (req: FastifyRequest, agentId?: string) => {
    if (!identity.zeroTrust.signAllRequests) return;
    const message = 'session tokens are disabled (security.zeroTrust.policies.agentCommunication.signAllRequests is true): sign every request instead';
    await identity.recordRejection({ code: 'session_tokens_disabled', message, ...(agentId ? { agentId } : {}), method: req.method, path: req.url.split('?')[0]!, door: 'agent' });
    throw new ClawguardError('session_tokens_disabled', message);
  };
  const sessionOf = (out: AuthOutcome) => {
    if (out.via !== 'session' || !out.session) throw new ClawguardError('bad_request', 'send the session token to rotate or revoke ("Authorization: Bearer <token>")');
    return out.session;
  };
  const audit = (type: string, agentId: string, payload: Record<string, unknown>) => d.audit().record({ type, agentId, subject: agentId, action: type, resource: `agent:${agentId}`, decision: 'allow', payload });

  return (app) =>
    agentScope(app, (scope) => {
      scope.post('/v1/sessions', async (req, reply) => {
        await refuseIfDisabled(req);
        const out = await identity.authenticator.authenticate(agentRequest(req), { allowTokens: false });
        if (out.principal.kind !== 'agent' || out.via !== 'signature') throw new ClawguardError('signature_required', 'only registered agents signing their request can open a session');
        const issued = await identity.sessions.issue(out.principal.agentId);
        try {
          await audit('identity.session.issued', issued.agentId, { sessionId: issued.sessionId, tokenId: issued.tokenId, expiresAt: issued.expiresAt });
        } catch (e) {
          identity.sessions.revokeSession(issued.tokenId);
          throw new ClawguardError('audit_unavailable', `session refused: the audit record could not be written (${(e as Error).message})`);
        }
        return reply.code(201).send(issued);
      });

      scope.post('/v1/sessions/rotate', async (req, reply) => {
        await refuseIfDisabled(req);
        const out = await identity.authenticator.authenticate(agentRequest(req), { allowTokens: true });
        const s = sessionOf(out);
        const issued = await identity.sessions.rotate(s.jti);
        await audit('identity.session.rotated', issued.agentId, { sessionId: issued.sessionId, from: s.jti, tokenId: issued.tokenId, graceSeconds: identity.sessions.graceSeconds }).catch((e: Error) => identity.log.error({ err: e.message }, 'audit of a session rotation failed'));
        return reply.code(200).send(issued);
      });

      scope.delete('/v1/sessions/current', async (req) => {
        const out = await identity.authenticator.authenticate(agentRequest(req), { allowTokens: true });
        const s = sessionOf(out);
        const revoked = identity.sessions.revokeSession(s.jti);
        await audit('identity.session.revoked', s.agentId, { sessionId: s.sessionId, tokens: revoked }).catch((e: Error) => identity.log.error({ err: e.message }, 'audit of a session revocation failed'));
        return { revoked, sessionId: s.sessionId };
      });
    });
}
