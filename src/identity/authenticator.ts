/**
 * The door for outside agents over HTTP: establishes the principal of a request from its RFC 9421
 * signature, or (where allowed) a session or run token; then applies the per-agent rate limit.
 * Every refusal is reported through `onReject` before it is thrown.
 */
import type { ZeroTrustConfig } from '../config/index.js';
import { ClawguardError, errorShape } from '../errors/index.js';
import type { Door, Principal } from '../pipeline/index.js';
import { reject } from './codes.js';
import { fieldValue } from './httpsig/message.js';
import { GATEWAY_COVERAGE, verifyRequest } from './httpsig/verify.js';
import type { NonceCache } from './nonce-cache.js';
import type { RateLimiter } from './rate-limit.js';
import type { AgentIdentity, AgentRegistry } from './registry.js';
import type { RunIdentities } from './run-identities.js';
import type { SessionTokens, VerifiedSession } from './session-tokens.js';
import { looksLikeJwt, type TokenSigner } from './token-signer.js';

export interface AgentHttpRequest {
  method: string;
  scheme: string;
  /** The Host header as received. */
  authority: string;
  /** Path and query as received. */
  target: string;
  headers: ReadonlyArray<readonly [string, string]>;
  body?: Uint8Array;
  remoteAddress?: string;
}

export interface AuthOutcome {
  principal: Principal;
  via: 'signature' | 'session' | 'run-token' | 'anonymous';
  session?: VerifiedSession;
}

export interface Rejection {
  code: string;
  message: string;
  agentId?: string;
  method: string;
  path: string;
  remoteAddress?: string;
  door: Door;
}

export interface AuthenticatorDeps {
  zeroTrust: ZeroTrustConfig;
  registry: AgentRegistry;
  sessions: SessionTokens;
  runs: RunIdentities;
  signer: TokenSigner;
  nonces: NonceCache;
  limiter?: RateLimiter;
  now: () => number;
  /** Records a refusal; awaited, so the record is durable before the 401 goes out. */
  onReject: (r: Rejection) => Promise<void> | void;
}

export const ANONYMOUS_ID = 'anonymous';

export function agentPrincipal(a: AgentIdentity): Principal {
  return { kind: 'agent', agentId: a.agentId, trustLevel: a.trustLevel, capabilities: [...a.capabilities], ...(a.profile ? { profile: a.profile } : {}), door: 'http' };
}

/** Fails closed: identity_revoked / identity_expired for a registered agent that can no longer act. */
export function assertUsable(a: AgentIdentity): void {
  if (a.status === 'revoked') throw reject('identity_revoked', `agent "${a.agentId}" was revoked${a.revokedAt ? ` at ${a.revokedAt}` : ''}`);
  if (a.status === 'expired') throw reject('identity_expired', `the identity of agent "${a.agentId}" expired at ${a.expires}`);
}

export class AgentAuthenticator {
  /** Replay protection across restarts: nothing signed before this process started is accepted. */
  private readonly startedAt: number;

  constructor(private readonly d: AuthenticatorDeps) {
    this.startedAt = Math.floor(d.now() / 1000);
  }

  async authenticate(req: AgentHttpRequest, opts: { allowTokens: boolean }): Promise<AuthOutcome> {
    let claimed: string | undefined;
    try {
      const out = await this.establish(req, opts, (id) => (claimed = id));
      if (this.d.zeroTrust.rateLimit && this.d.limiter && out.via !== 'anonymous') this.d.limiter.take(out.principal.agentId);
      return out;
    } catch (e) {
      const s = errorShape(e, 'unauthenticated');
      await this.d.onReject({ code: s.code, message: s.message, ...(claimed ? { agentId: claimed } : {}), method: req.method, path: req.target.split('?')[0]!, ...(req.remoteAddress ? { remoteAddress: req.remoteAddress } : {}), door: 'http' });
      throw e instanceof ClawguardError ? e : new ClawguardError('unauthenticated', s.message);
    }
  }

  private async establish(req: AgentHttpRequest, opts: { allowTokens: boolean }, claim: (id: string) => void): Promise<AuthOutcome> {
    const zt = this.d.zeroTrust;
    const signed = fieldValue(req.headers, 'signature-input') !== undefined || fieldValue(req.headers, 'signature') !== undefined;
    if (signed) return this.bySignature(req, claim);
    const auth = fieldValue(req.headers, 'authorization');
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      const token = m?.[1];
      if (!token || !looksLikeJwt(token)) throw reject('wrong_credential', 'agent endpoints accept RFC 9421 signatures or agent session tokens; operator tokens and other credentials are not accepted here');
      if (zt.signAllRequests) throw reject('signature_required', 'signAllRequests is on: session tokens are refused, sign every request (RFC 9421)');
      if (!opts.allowTokens) throw reject('signature_required', 'this endpoint needs a signed request (RFC 9421); a token is not enough');
      return this.byToken(token, claim);
    }
    if (!zt.requireAuthentication) {
      return { principal: { kind: 'agent', agentId: ANONYMOUS_ID, profile: ANONYMOUS_ID, trustLevel: 'restricted', capabilities: [], door: 'http' }, via: 'anonymous' };
    }
    throw reject('missing_signature', 'the request is not signed: send Signature-Input and Signature (RFC 9421, ed25519, keyid = your agent id)');
  }

  private async bySignature(req: AgentHttpRequest, claim: (id: string) => void): Promise<AuthOutcome> {
    let agent: AgentIdentity | undefined;
    const msg = { method: req.method, targetUri: `${req.scheme}://${req.authority}${req.target}`, headers: req.headers, ...(req.body ? { body: req.body } : {}) };
    const o = {
      now: Math.floor(this.d.now() / 1000),
      skewSeconds: this.d.zeroTrust.clockSkewSeconds,
      notBefore: this.startedAt,
      required: GATEWAY_COVERAGE,
      resolveKey: (keyid: string | undefined) => {
        if (keyid === undefined) throw reject('missing_component', 'the signature has no keyid (it must be your agent id)');
        claim(keyid);
        const found = this.d.registry.resolve(keyid);
        if (!found) throw reject('unknown_key', `no registered agent has keyid ${JSON.stringify(keyid.slice(0, 128))}`);
        agent = found.agent;
        return { key: found.key, afterVerify: () => assertUsable(found.agent) };
      },
      checkNonce: (keyid: string, nonce: string, until: number) => this.d.nonces.checkAndStore(keyid, nonce, until),
    };
    verifyRequest(msg, o);
    this.d.registry.touch(agent!.agentId);
    return { principal: agentPrincipal(agent!), via: 'signature' };
  }

  private async byToken(token: string, claim: (id: string) => void): Promise<AuthOutcome> {
    const claims = await this.d.signer.verify(token, this.d.now());
    claim(claims.sub);
    if (claims.typ === 'run') return { principal: this.d.runs.principalFromToken(claims), via: 'run-token' };
    const session = this.d.sessions.check(claims);
    const found = this.d.registry.resolve(session.agentId);
    if (!found) throw reject('unknown_key', `agent ${JSON.stringify(session.agentId)} is no longer registered`);
    assertUsable(found.agent);
    this.d.registry.touch(found.agent.agentId);
    return { principal: agentPrincipal(found.agent), via: 'session', session };
  }
}
