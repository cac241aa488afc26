/**
 * Run-scoped ephemeral identities: issued when a thread-bound run's instance starts, bound to
 * its runId and profile, destroyed with it. A run gets its profile's trust level and
 * capabilities, never more; a credential (principal or token) from a finished run is refused.
 */
import { randomUUID } from 'node:crypto';
import type { ProfileConfig, TrustLevel } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import type { Principal } from '../pipeline/index.js';
import { reject } from './codes.js';
import type { TokenClaims, TokenSigner } from './token-signer.js';

const RANK: Record<TrustLevel, number> = { restricted: 0, limited: 1, trusted: 2 };

export function lowerTrust(a: TrustLevel, b: TrustLevel): TrustLevel {
  return RANK[a] <= RANK[b] ? a : b;
}

interface RunCredential {
  runId: string;
  profile: string;
  trustLevel: TrustLevel;
  capabilities: string[];
  isolation?: Principal['isolation'];
  jti: string;
  issuedAt: number;
  expiresAt: number;
}

export class RunIdentities {
  private readonly live = new Map<string, RunCredential>();
  /** Recently ended runs (bounded), so a copied credential gets a clear answer. */
  private readonly ended = new Map<string, number>();

  constructor(
    private readonly signer: TokenSigner | undefined,
    private readonly profiles: () => Record<string, ProfileConfig>,
    private readonly now: () => number = Date.now,
  ) {}

  get activeCount(): number {
    return this.live.size;
  }

  /** RunManager seam: the run's instance is starting. Unknown profile → nothing issued (calls will fail closed). */
  issue(p: Principal): void {
    if (p.kind !== 'run' || !p.runId || !p.profile) return;
    const prof = this.profiles()[p.profile];
    if (!prof) return;
    const t = Math.floor(this.now() / 1000);
    this.live.set(p.runId, {
      runId: p.runId,
      profile: p.profile,
      trustLevel: lowerTrust(p.trustLevel, prof.trustLevel),
      capabilities: p.capabilities.filter((c) => prof.capabilities.includes(c)),
      ...(p.isolation ? { isolation: p.isolation } : {}),
      jti: randomUUID(),
      issuedAt: t,
      expiresAt: t + prof.timeoutSeconds + 60,
    });
  }

  /** RunManager seam: the run ended; its credential is destroyed. */
  revoke(runId: string): void {
    if (!this.live.delete(runId)) return;
    this.ended.set(runId, Date.now());
    if (this.ended.size > 10_000) this.ended.delete(this.ended.keys().next().value!);
  }

  /** Call-time check of a run principal: the credential exists and the principal claims no more than it grants. */
  verify(p: Principal): void {
    const c = p.runId ? this.live.get(p.runId) : undefined;
    if (!c) throw reject('identity_revoked', p.runId && this.ended.has(p.runId) ? `the run-scoped identity of run ${p.runId} ended with its run` : 'no run-scoped identity was issued for this principal');
    if (p.agentId !== `run:${c.runId}` || p.profile !== c.profile) throw new ClawguardError('unauthenticated', 'the principal does not match its run-scoped identity');
    if (RANK[p.trustLevel] > RANK[c.trustLevel]) throw new ClawguardError('unauthenticated', `the principal claims trust level ${p.trustLevel}, more than its run was issued (${c.trustLevel})`);
    const extra = p.capabilities.filter((x) => !c.capabilities.includes(x));
    if (extra.length) throw new ClawguardError('unauthenticated', `the principal claims capabilities its run was not issued: ${extra.join(', ')}`);
  }

  /** A bearer token for the run's identity (for run code that calls back over HTTP). */
  async token(runId: string): Promise<string> {
    const c = this.live.get(runId);
    if (!c) throw reject('identity_revoked', `run ${runId} has no live identity`);
    if (!this.signer) throw new ClawguardError('unavailable', 'run tokens are not available (no token key)');
    return this.signer.sign({ sub: `run:${runId}`, jti: c.jti, iat: c.issuedAt, exp: c.expiresAt, typ: 'run', run_id: runId, profile: c.profile });
  }

  /** The principal of a verified run token, if its run is still live and the token is the one issued. */
  principalFromToken(claims: TokenClaims): Principal {
    const runId = claims.run_id;
    const c = runId ? this.live.get(runId) : undefined;
    if (!c || c.jti !== claims.jti) throw reject('identity_revoked', `the run-scoped identity${runId ? ` of run ${runId}` : ''} is no longer valid (the run has ended)`);
    return { kind: 'run', agentId: `run:${c.runId}`, runId: c.runId, profile: c.profile, trustLevel: c.trustLevel, capabilities: [...c.capabilities], ...(c.isolation ? { isolation: c.isolation } : {}), door: 'http' };
  }
}
