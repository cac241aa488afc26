/**
 * Session tokens for agents that cannot sign every request: short-lived EdDSA JWTs (TTL at most
 * 15 minutes) bound to one agent. Rotation issues a new token and lets the old one work for a
 * short grace; revocation is immediate (every use is checked against the store).
 */
import { randomUUID } from 'node:crypto';
import { ClawguardError } from '../errors/index.js';
import type { SqliteDb } from '../store/index.js';
import { reject } from './codes.js';
import { migrateIdentity } from './schema.js';
import type { TokenClaims, TokenSigner } from './token-signer.js';

export const MAX_SESSION_TTL_SECONDS = 900;

export interface SessionTokenOptions {
  ttlSeconds: number;
  /** How long a rotated-away token keeps working. */
  graceSeconds?: number;
  /** A session may be rotated for this long after its first token; then a new signed POST /v1/sessions is needed. */
  familyMaxSeconds?: number;
  now?: () => number;
}

export interface IssuedToken {
  token: string;
  tokenType: 'Bearer';
  agentId: string;
  sessionId: string;
  tokenId: string;
  issuedAt: string;
  expiresAt: string;
  expiresIn: number;
}

export interface VerifiedSession {
  agentId: string;
  jti: string;
  sessionId: string;
  expiresAt: number;
  /** Past half of its lifetime and not yet rotated. */
  rotateSuggested: boolean;
}

interface Row {
  jti: string;
  family: string;
  agent_id: string;
  issued_at: number;
  expires_at: number;
  family_started_at: number;
  rotated_at: number | null;
  grace_until: number | null;
  replaced_by: string | null;
  revoked_at: number | null;
}

export class SessionTokens {
  readonly ttlSeconds: number;
  readonly graceSeconds: number;
  readonly familyMaxSeconds: number;
  private readonly now: () => number;
  private readonly q;

  constructor(
    private readonly db: SqliteDb,
    private readonly signer: TokenSigner,
    o: SessionTokenOptions,
  ) {
    migrateIdentity(db);
    this.ttlSeconds = Math.max(1, Math.min(MAX_SESSION_TTL_SECONDS, Math.floor(o.ttlSeconds)));
    this.graceSeconds = Math.max(0, Math.min(o.graceSeconds ?? 30, this.ttlSeconds));
    this.familyMaxSeconds = o.familyMaxSeconds ?? 8 * 3600;
    this.now = o.now ?? Date.now;
    this.q = {
      get: db.prepare<[string], Row>('SELECT * FROM identity_sessions WHERE jti = ?'),
      insert: db.prepare('INSERT INTO identity_sessions (jti, family, agent_id, issued_at, expires_at, family_started_at) VALUES (?, ?, ?, ?, ?, ?)'),
      rotate: db.prepare('UPDATE identity_sessions SET rotated_at = ?, grace_until = ?, replaced_by = ? WHERE jti = ? AND rotated_at IS NULL AND revoked_at IS NULL'),
      revokeFamily: db.prepare('UPDATE identity_sessions SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL'),
      revokeAgent: db.prepare('UPDATE identity_sessions SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL AND expires_at > ?'),
      purge: db.prepare('DELETE FROM identity_sessions WHERE expires_at < ?'),
      live: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM identity_sessions WHERE revoked_at IS NULL AND expires_at > ?'),
    };
  }

  private secs(): number {
    return Math.floor(this.now() / 1000);
  }

  private async mint(agentId: string, family: string, familyStarted: number): Promise<{ row: Omit<Row, 'rotated_at' | 'grace_until' | 'replaced_by' | 'revoked_at'>; issued: IssuedToken }> {
    const iat = this.secs();
    const exp = iat + this.ttlSeconds;
    const jti = randomUUID();
    const token = await this.signer.sign({ sub: agentId, jti, iat, exp, typ: 'session', sid: family });
    return {
      row: { jti, family, agent_id: agentId, issued_at: iat, expires_at: exp, family_started_at: familyStarted },
      issued: { token, tokenType: 'Bearer', agentId, sessionId: family, tokenId: jti, issuedAt: new Date(iat * 1000).toISOString(), expiresAt: new Date(exp * 1000).toISOString(), expiresIn: this.ttlSeconds },
    };
  }

  /** A new session for an agent that has just proven itself with a signature. */
  async issue(agentId: string): Promise<IssuedToken> {
    const family = randomUUID();
    const { row, issued } = await this.mint(agentId, family, this.secs());
    this.q.purge.run(this.secs() - 3600);
    this.q.insert.run(row.jti, row.family, row.agent_id, row.issued_at, row.expires_at, row.family_started_at);
    return issued;
  }

  /** Checks a token's claims against the store: revoked, rotated past grace, unknown → refused. */
  check(claims: TokenClaims): VerifiedSession {
    const r = this.q.get.get(claims.jti);
    if (!r || r.agent_id !== claims.sub) throw reject('token_invalid', 'the session token is not known to this gateway');
    const t = this.secs();
    if (r.revoked_at !== null) throw reject('token_revoked', 'the session token has been revoked');
    if (r.grace_until !== null && t >= r.grace_until) throw reject('token_rotated', 'the session token was rotated and its grace period is over; use the new token');
    if (r.expires_at <= t) throw reject('token_expired', 'the session token has expired');
    return { agentId: r.agent_id, jti: r.jti, sessionId: r.family, expiresAt: r.expires_at, rotateSuggested: r.rotated_at === null && r.expires_at - t <= this.ttlSeconds / 2 };
  }

  /** A fresh token for the same session; the presented one keeps working for the grace period. */
  async rotate(jti: string): Promise<IssuedToken> {
    const r = this.q.get.get(jti);
    if (!r) throw reject('token_invalid', 'the session token is not known to this gateway');
    if (r.rotated_at !== null) throw reject('token_rotated', 'this token was already rotated; use the token that replaced it');
    const t = this.secs();
    if (t - r.family_started_at >= this.familyMaxSeconds) throw reject('token_expired', `the session is older than ${this.familyMaxSeconds} s; sign a new POST /v1/sessions`);
    const { row, issued } = await this.mint(r.agent_id, r.family, r.family_started_at);
    const ok = this.db.transaction(() => {
      const changed = this.q.rotate.run(t, Math.min(t + this.graceSeconds, r.expires_at), row.jti, r.jti).changes;
      if (changed === 0) return false;
      this.q.insert.run(row.jti, row.family, row.agent_id, row.issued_at, row.expires_at, row.family_started_at);
      return true;
    })();
    if (!ok) throw reject('token_rotated', 'this token was rotated or revoked concurrently');
    return issued;
  }

  /** Revokes every token of the session the given token belongs to. */
  revokeSession(jti: string): number {
    const r = this.q.get.get(jti);
    if (!r) throw new ClawguardError('not_found', 'no such session token');
    return this.q.revokeFamily.run(this.secs(), r.family).changes;
  }

  /** Revokes every live token of an agent. */
  revokeAgent(agentId: string): number {
    return this.q.revokeAgent.run(this.secs(), agentId, this.secs()).changes;
  }

  liveCount(): number {
    return this.q.live.get(this.secs())!.n;
  }
}
