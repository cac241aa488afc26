/**
 * Session tokens for agents that cannot sign every request. POST /v1/sessions needs a signed
 * request; rotation and revocation are done with the token itself. Refused with signAllRequests.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClawguardError } from '../../errors/index.js';
import type { AuthOutcome } from '../../identity/index.js';
import type { AuditSink } from '../../pipeline/index.js';
import { agentScope, authenticateAgent, type AgentDoorDeps } from './agent-tools.js';
import { recordedChange } from './recorded-change.js';

export interface SessionRouteDeps extends AgentDoorDeps {
  audit: () => AuditSink;
}

export function registerSessionRoutes(d: SessionRouteDeps): (app: FastifyInstance) => void {
  const { identity } = d;
  const refuseIfDisabled = async (req: FastifyRequest, agentId?: string) => {
    if (!identity.zeroTrust.signAllRequests) return;
    const message = 'session tokens are disabled (security.zeroTrust.policies.agentCommunication.signAllRequests is true): sign every request instead';
    await identity.recordRejection({ code: 'session_tokens_disabled', message, ...(agentId ? { agentId } : {}), method: req.method, path: req.url.split('?')[0]!, ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}), door: 'http' });
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
        const out = await authenticateAgent(d, req, { allowTokens: false });
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
        const out = await authenticateAgent(d, req, { allowTokens: true });
        const s = sessionOf(out);
        const issued = await identity.sessions.rotate(s.jti);
        try {
          await audit('identity.session.rotated', issued.agentId, { sessionId: issued.sessionId, from: s.jti, tokenId: issued.tokenId, graceSeconds: identity.sessions.graceSeconds });
        } catch (e) {
          // The new token is never handed out unrecorded; the session ends (the agent signs a new one).
          identity.sessions.revokeSession(issued.tokenId);
          throw new ClawguardError('audit_unavailable', `rotation refused: the audit record could not be written (${(e as Error).message}); the session is revoked, open a new one`);
        }
        return reply.code(200).send(issued);
      });

      scope.delete('/v1/sessions/current', async (req) => {
        const out = await authenticateAgent(d, req, { allowTokens: true });
        const s = sessionOf(out);
        return recordedChange(d.audit, { type: 'identity.session.revoked', agentId: s.agentId, subject: s.agentId, action: 'identity.session.revoked', resource: `agent:${s.agentId}`, decision: 'allow', payload: { sessionId: s.sessionId } }, 'revocation', () => ({ revoked: identity.sessions.revokeSession(s.jti), sessionId: s.sessionId }), identity.log);
      });
    });
}
