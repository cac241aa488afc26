/**
 * The HTTP door for outside agents: POST /v1/tools/<tool>, authenticated by an RFC 9421
 * signature (or, where allowed, a session token), then the SAME pipeline every run uses.
 * Bodies are read as raw bytes so Content-Digest is checked against exactly what was sent.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { markAuthenticated } from '../../audit/index.js';
import { ClawguardError } from '../../errors/index.js';
import { type AgentHttpRequest, type AuthOutcome, fromRawHeaders, type IdentityService, ROTATED_TOKEN_HEADER } from '../../identity/index.js';
import type { Pipeline } from '../../pipeline/index.js';
import { publicError } from '../error-map.js';
import { parseJsonBody } from '../json-body.js';

export interface AgentDoorDeps {
  identity: IdentityService;
  pipeline: Pipeline;
}

/** The framework-neutral view of a request that the identity module authenticates. */
export function agentRequest(req: FastifyRequest): AgentHttpRequest {
  const body = Buffer.isBuffer(req.body) ? req.body : undefined;
  return {
    method: req.method,
    scheme: req.protocol,
    authority: req.headers.host ?? '',
    target: req.url,
    headers: fromRawHeaders(req.raw.rawHeaders),
    ...(body ? { body } : {}),
    ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}),
  };
}

/** JSON from the raw body (empty → undefined); 415 for other media types, 400 for bad JSON or a value that cannot be handled. */
export function jsonBody(req: FastifyRequest): unknown {
  const body = Buffer.isBuffer(req.body) ? req.body : undefined;
  if (!body || body.length === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type && type !== 'application/json' && !type.endsWith('+json')) throw new ClawguardError('unsupported_media_type', `expected an application/json body, got ${type}`);
  return parseJsonBody(body.toString('utf8'));
}

/** Authenticate an agent request; from then on the request counts as authenticated (its refusals are recorded one by one). */
export async function authenticateAgent(d: AgentDoorDeps, req: FastifyRequest, opts: { allowTokens: boolean }): Promise<AuthOutcome> {
  const out = await d.identity.authenticator.authenticate(agentRequest(req), opts);
  markAuthenticated();
  return out;
}

/** With sessionTokenRotation, a token past half its life gets a successor in a response header. */
export async function autoRotate(d: AgentDoorDeps, out: AuthOutcome, reply: FastifyReply): Promise<void> {
  if (!d.identity.zeroTrust.sessionTokenRotation || out.via !== 'session' || !out.session?.rotateSuggested) return;
  try {
    const next = await d.identity.sessions.rotate(out.session.jti);
    void reply.header(ROTATED_TOKEN_HEADER, next.token);
  } catch {
    /* rotated concurrently by another request: the client already has (or will get) the successor */
  }
}

/** Registers the raw-body scope in which agent-facing routes live. */
export function agentScope(app: FastifyInstance, register: (scope: FastifyInstance) => void): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    register(scope);
  });
}

const TOOL_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function registerAgentToolRoutes(d: AgentDoorDeps): (app: FastifyInstance) => void {
  return (app) =>
    agentScope(app, (scope) => {
      scope.post('/v1/tools/:tool', async (req, reply) => {
        const out = await authenticateAgent(d, req, { allowTokens: true });
        const tool = (req.params as { tool?: string }).tool ?? '';
        if (!TOOL_NAME.test(tool)) throw new ClawguardError('bad_request', `tool name ${JSON.stringify(tool.slice(0, 80))} is not valid`);
        const args = jsonBody(req) ?? {};
        await autoRotate(d, out, reply);
        const controller = new AbortController();
        // The client went away before the answer: abort the call (tools honour the signal).
        const onClose = () => {
          if (!reply.raw.writableFinished) controller.abort();
        };
        reply.raw.once('close', onClose);
        try {
          const r = await d.pipeline.callTool({ principal: out.principal, tool, args, signal: controller.signal });
          if (r.ok) return reply.code(200).send(r);
          const { status, error } = publicError(r.error.code, r.error.message);
          return reply.code(status).send({ ...r, error });
        } finally {
          reply.raw.off('close', onClose);
        }
      });
    });
}
