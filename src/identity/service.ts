/**
 * The identity module assembled for a gateway: registry, signatures, replay cache, rate limit,
 * session and run tokens, operator tokens, and the call-time principal check.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ProfileConfig, ZeroTrustConfig } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import type { AuditEventInput, AuditSink, Door, Principal } from '../pipeline/index.js';
import { operatorTokenPath, type SqliteDb } from '../store/index.js';
import { AgentAuthenticator, ANONYMOUS_ID, assertUsable, type Rejection } from './authenticator.js';
import { ed25519Status } from './ed25519.js';
import { NonceCache } from './nonce-cache.js';
import { OperatorTokens } from './operator-tokens.js';
import { RateLimiter } from './rate-limit.js';
import { AgentRegistry } from './registry.js';
import { RunIdentities } from './run-identities.js';
import { MAX_SESSION_TTL_SECONDS, SessionTokens } from './session-tokens.js';
import { TokenSigner } from './token-signer.js';

export interface IdentityServiceOptions {
  db: SqliteDb;
  stateDir: string;
  zeroTrust: ZeroTrustConfig;
  profiles: () => Record<string, ProfileConfig>;
  /** Tokens with the admin scope (the state-dir token file, CLAWGUARD_TOKEN). */
  adminTokens: string[];
  log: Logger;
  /** Where rejections are recorded (resolved at each use, so the sink can be swapped). */
  audit: () => AuditSink;
  /**
   * Where rejections of requests that presented no accepted credential go instead (the gateway's
   * flood guard: the first of a burst at once, the rest counted into one event per window).
   */
  floodGuard?: { record(event: AuditEventInput, from: { remoteAddress?: string; door: Door; code: string }, logFields?: Record<string, unknown>): Promise<void> };
  /** Whether the request being handled has already presented an accepted credential. */
  authenticated?: () => boolean;
  now?: () => number;
  rotationGraceSeconds?: number;
}

/** The state dir's operator.token stays an admin token even when CLAWGUARD_TOKEN overrides it. */
function stateDirToken(stateDir: string): string[] {
  const f = operatorTokenPath(stateDir);
  try {
    return existsSync(f) ? [readFileSync(f, 'utf8').trim()].filter(Boolean) : [];
  } catch {
    return [];
  }
}

export class IdentityService {
  readonly registry: AgentRegistry;
  readonly signer: TokenSigner;
  readonly sessions: SessionTokens;
  readonly runs: RunIdentities;
  readonly operators: OperatorTokens;
  readonly nonces: NonceCache;
  readonly limiter: RateLimiter;
  readonly authenticator: AgentAuthenticator;
  readonly zeroTrust: ZeroTrustConfig;
  readonly log: Logger;
  private rejections = 0;

  constructor(private readonly o: IdentityServiceOptions) {
    const now = o.now ?? Date.now;
    const zt = o.zeroTrust;
    this.zeroTrust = zt;
    this.log = o.log;
    if (zt.sessionTokenTtlSeconds > MAX_SESSION_TTL_SECONDS) o.log.warn({ configured: zt.sessionTokenTtlSeconds, used: MAX_SESSION_TTL_SECONDS }, 'security.zeroTrust.sessionTokenTtl is above 15 minutes; session tokens live 15 minutes');
    this.registry = new AgentRegistry(o.db, now);
    this.signer = new TokenSigner(o.stateDir);
    this.sessions = new SessionTokens(o.db, this.signer, { ttlSeconds: zt.sessionTokenTtlSeconds, ...(o.rotationGraceSeconds !== undefined ? { graceSeconds: o.rotationGraceSeconds } : {}), now });
    this.runs = new RunIdentities(this.signer, o.profiles, now);
    this.operators = new OperatorTokens(o.db, [...o.adminTokens, ...stateDirToken(o.stateDir)], now);
    this.nonces = new NonceCache(undefined, () => now() / 1000);
    this.limiter = new RateLimiter(zt.rateLimitPerSecond, zt.rateLimitBurst);
    this.authenticator = new AgentAuthenticator({ zeroTrust: zt, registry: this.registry, sessions: this.sessions, runs: this.runs, signer: this.signer, nonces: this.nonces, limiter: this.limiter, now, onReject: (r) => this.recordRejection(r) });
  }

  /**
   * A structured log line, and an audit record; the returned promise settles once the record is
   * durable (or failed, which is logged). It never rejects: the request is refused either way.
   */
  recordRejection(r: Rejection): Promise<void> {
    this.rejections++;
    const event: AuditEventInput = { type: 'request.rejected', ...(r.agentId ? { agentId: r.agentId } : {}), subject: r.agentId ?? 'unauthenticated', action: `${r.method} ${r.path}`, resource: r.path, decision: 'deny', payload: { code: r.code, message: r.message, door: r.door, ...(r.agentId ? { claimedAgentId: r.agentId } : {}), ...(r.remoteAddress ? { remoteAddress: r.remoteAddress } : {}) } };
    if (this.o.floodGuard && !this.o.authenticated?.()) return this.o.floodGuard.record(event, { ...(r.remoteAddress ? { remoteAddress: r.remoteAddress } : {}), door: r.door, code: r.code }, { event: 'request.rejected', ...r });
    this.o.log.warn({ event: 'request.rejected', ...r }, `request rejected: ${r.code}`);
    const failed = (e: unknown) => this.o.log.error({ err: (e as Error).message, code: r.code }, 'audit of a rejected request failed');
    try {
      return this.o
        .audit()
        .record(event)
        .then(() => undefined, failed);
    } catch (e) {
      failed(e);
      return Promise.resolve();
    }
  }

  /** Pipeline step 1 (PrincipalVerifier): is this principal's credential still valid right now? */
  verifyPrincipal(p: Principal): void {
    if (p.kind === 'run') return this.runs.verify(p);
    if (p.agentId === ANONYMOUS_ID) {
      if (this.zeroTrust.requireAuthentication) throw new ClawguardError('unauthenticated', 'anonymous principals are refused: authentication is required');
      return;
    }
    const a = this.registry.current(p.agentId);
    if (!a) throw new ClawguardError('unknown_key', `agent "${p.agentId}" is not registered`);
    assertUsable(a);
    if (p.profile !== a.profile || p.trustLevel !== a.trustLevel || p.capabilities.some((c) => !a.capabilities.includes(c))) {
      throw new ClawguardError('unauthenticated', `the principal of agent "${p.agentId}" claims more than its registered identity`);
    }
  }

  status(): Record<string, unknown> {
    const agents = this.registry.list();
    const count = (s: string) => agents.filter((a) => a.status === s).length;
    const zt = this.zeroTrust;
    return {
      agents: { active: count('active'), revoked: count('revoked'), expired: count('expired') },
      requireAuthentication: zt.requireAuthentication,
      signAllRequests: zt.signAllRequests,
      sessionTokens: zt.signAllRequests ? 'refused (signAllRequests)' : { ttlSeconds: this.sessions.ttlSeconds, rotationGraceSeconds: this.sessions.graceSeconds, autoRotate: zt.sessionTokenRotation, live: this.sessions.liveCount() },
      rateLimit: zt.rateLimit ? { perSecond: zt.rateLimitPerSecond, burst: zt.rateLimitBurst } : false,
      clockSkewSeconds: zt.clockSkewSeconds,
      signatures: ed25519Status(),
      replayCache: { entries: this.nonces.size, max: this.nonces.maxEntries },
      runIdentities: this.runs.activeCount,
      rejectedRequests: this.rejections,
    };
  }

  close(): void {
    this.registry.close();
  }
}
