/**
 * The agent registry: who may sign requests, with which Ed25519 public key, trust level and
 * capabilities, until when. Revocation is immediate; lastSeen is kept in memory on every accepted
 * request and written to the store every few seconds (a write per request would cost an fsync).
 */
import type { KeyObject } from 'node:crypto';
import type { TrustLevel } from '../config/index.js';
import { parseDurationSeconds } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import type { SqliteDb } from '../store/index.js';
import { importPublicKey, type KeyInput, keyThumbprint, publicKeyPem } from './keys.js';
import { migrateIdentity } from './schema.js';

export const TRUST_LEVELS: readonly TrustLevel[] = ['trusted', 'limited', 'restricted'];
export type AgentStatus = 'active' | 'revoked' | 'expired';

export interface AgentIdentity {
  agentId: string;
  publicKey: string;
  fingerprint: string;
  signatureAlgorithm: 'ed25519';
  trustLevel: TrustLevel;
  capabilities: string[];
  /** Config profile whose tool rules apply to this agent's calls (optional). */
  profile?: string;
  created: string;
  expires?: string;
  lastSeen?: string;
  revokedAt?: string;
  revokedReason?: string;
  status: AgentStatus;
}

export interface RegisterInput {
  agentId: string;
  publicKey: KeyInput;
  signatureAlgorithm?: string;
  trustLevel?: string;
  capabilities?: string[];
  profile?: string;
  /** ISO 8601 instant, or a duration from now ("30d", "12h", seconds). */
  expires?: string | number;
}

interface Row {
  agent_id: string;
  public_key: string;
  fingerprint: string;
  signature_algorithm: string;
  trust_level: string;
  capabilities: string;
  profile: string | null;
  created: string;
  expires: string | null;
  last_seen: string | null;
  revoked_at: string | null;
  revoked_reason: string | null;
}

export const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CAPABILITY = /^[A-Za-z0-9][A-Za-z0-9._:*\/-]{0,127}$/;
const RESERVED = new Set(['anonymous', 'operator', 'gateway']);

export function validateAgentId(id: unknown): string {
  if (typeof id !== 'string' || !AGENT_ID.test(id)) throw new ClawguardError('bad_request', `agent id must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit; got ${JSON.stringify(typeof id === 'string' ? id.slice(0, 80) : id)}`);
  if (RESERVED.has(id.toLowerCase())) throw new ClawguardError('bad_request', `agent id "${id}" is reserved`);
  return id;
}

/** The furthest a credential's expiry may lie ahead: ten years (omit `expires` for none). */
export const MAX_EXPIRY_SECONDS = 3650 * 86400;

/** "30d" / 3600 / ISO instant → ISO instant in the future, at most MAX_EXPIRY_SECONDS ahead. */
export function parseExpiry(v: string | number, nowMs: number, what = 'expires'): string {
  const secs = parseDurationSeconds(v);
  const t = secs !== undefined ? nowMs + secs * 1000 : typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new ClawguardError('bad_request', `${what}: expected a duration like "30d" or "12h", or an ISO 8601 date; got ${JSON.stringify(typeof v === 'string' ? v.slice(0, 80) : v)}`);
  if (t <= nowMs) throw new ClawguardError('bad_request', `${what}: ${JSON.stringify(v)} is in the past`);
  // Also keeps the instant inside what a Date can hold (1e308 seconds is not a time).
  if (t - nowMs > MAX_EXPIRY_SECONDS * 1000) throw new ClawguardError('bad_request', `${what}: at most 3650d (ten years) ahead; got ${JSON.stringify(typeof v === 'string' ? v.slice(0, 80) : v)} (omit ${what} for a credential that does not expire)`);
  return new Date(t).toISOString();
}

/** The ids in a store's agent registry (revoked ones included: ids are never reused). */
export function registeredAgentIds(db: SqliteDb): Set<string> {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'identity_agents'").get();
  if (!has) return new Set();
  return new Set((db.prepare('SELECT agent_id FROM identity_agents').all() as Array<{ agent_id: string }>).map((r) => r.agent_id));
}

/** A registration that passed every check, in the form it will be stored. */
export interface PreparedAgent {
  agentId: string;
  publicKeyPem: string;
  fingerprint: string;
  trustLevel: TrustLevel;
  capabilities: string[];
  profile: string | null;
  expires: string | null;
}

export class AgentRegistry {
  private readonly seen = new Map<string, number>();
  private readonly keys = new Map<string, { fingerprint: string; key: KeyObject }>();
  /**
   * Rows read in the last second. Every change made through this registry updates it at once
   * (revocation is immediate); a change made by another process is seen within a second.
   */
  private readonly rows = new Map<string, { row: Row | undefined; at: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly q;

  constructor(
    private readonly db: SqliteDb,
    private readonly now: () => number = Date.now,
    flushEveryMs = 5000,
  ) {
    migrateIdentity(db);
    this.q = {
      get: db.prepare<[string], Row>('SELECT * FROM identity_agents WHERE agent_id = ?'),
      list: db.prepare<[], Row>('SELECT * FROM identity_agents ORDER BY agent_id'),
      insert: db.prepare('INSERT INTO identity_agents (agent_id, public_key, fingerprint, signature_algorithm, trust_level, capabilities, profile, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      revoke: db.prepare('UPDATE identity_agents SET revoked_at = ?, revoked_reason = ? WHERE agent_id = ? AND revoked_at IS NULL'),
      touch: db.prepare('UPDATE identity_agents SET last_seen = ? WHERE agent_id = ? AND (last_seen IS NULL OR last_seen < ?)'),
    };
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref();
  }

  private status(r: Row): AgentStatus {
    if (r.revoked_at) return 'revoked';
    if (r.expires && Date.parse(r.expires) <= this.now()) return 'expired';
    return 'active';
  }

  /** What a row says that does not change while it is cached (parsed once per row). */
  private readonly fixed = new WeakMap<Row, Omit<AgentIdentity, 'lastSeen' | 'status'>>();

  private readonly frozen = new WeakMap<Row, AgentIdentity>();

  private view(r: Row, withLastSeen = true): AgentIdentity {
    let f = this.fixed.get(r);
    if (!f) {
      f = {
        agentId: r.agent_id,
        publicKey: r.public_key,
        fingerprint: r.fingerprint,
        signatureAlgorithm: 'ed25519',
        trustLevel: r.trust_level as TrustLevel,
        capabilities: JSON.parse(r.capabilities) as string[],
        ...(r.profile ? { profile: r.profile } : {}),
        created: r.created,
        ...(r.expires ? { expires: r.expires } : {}),
        ...(r.revoked_at ? { revokedAt: r.revoked_at } : {}),
        ...(r.revoked_reason ? { revokedReason: r.revoked_reason } : {}),
      };
      this.fixed.set(r, f);
    }
    if (!withLastSeen) {
      // The request path asks for this on every call: one frozen object per row and status.
      const status = this.status(r);
      let v = this.frozen.get(r);
      if (!v || v.status !== status) {
        v = Object.freeze({ ...f, capabilities: Object.freeze([...f.capabilities]) as string[], status });
        this.frozen.set(r, v);
      }
      return v;
    }
    const mem = this.seen.get(r.agent_id);
    const lastSeen = mem !== undefined ? new Date(mem).toISOString() : (r.last_seen ?? undefined);
    return { ...f, capabilities: [...f.capabilities], ...(lastSeen ? { lastSeen } : {}), status: this.status(r) };
  }

  register(input: RegisterInput): AgentIdentity {
    return this.insert(this.prepare(input));
  }

  /** Every check a registration must pass (a taken id included), without storing anything. */
  prepare(input: RegisterInput): PreparedAgent {
    const agentId = validateAgentId(input.agentId);
    const alg = typeof input.signatureAlgorithm === 'string' ? input.signatureAlgorithm.toLowerCase() : input.signatureAlgorithm === undefined ? 'ed25519' : undefined;
    if (alg !== 'ed25519') throw new ClawguardError('bad_request', `signatureAlgorithm ${JSON.stringify(input.signatureAlgorithm)} is not supported (only ed25519)`);
    const trust = input.trustLevel ?? 'limited';
    if (!TRUST_LEVELS.includes(trust as TrustLevel)) throw new ClawguardError('bad_request', `trustLevel must be one of ${TRUST_LEVELS.join(', ')}; got ${JSON.stringify(trust)}`);
    const caps = input.capabilities ?? [];
    for (const c of caps) if (typeof c !== 'string' || !CAPABILITY.test(c)) throw new ClawguardError('bad_request', `capability ${JSON.stringify(c)} is not valid (letters, digits and . _ : * / -)`);
    const key = importPublicKey(input.publicKey, 'publicKey');
    const expires = input.expires !== undefined ? parseExpiry(input.expires, this.now()) : null;
    if (this.q.get.get(agentId)) throw new ClawguardError('conflict', `agent "${agentId}" is already registered (ids are never reused, even after revocation)`);
    return { agentId, publicKeyPem: publicKeyPem(key), fingerprint: keyThumbprint(key), trustLevel: trust as TrustLevel, capabilities: [...new Set(caps)], profile: input.profile ?? null, expires };
  }

  /** Stores a prepared registration. */
  insert(a: PreparedAgent): AgentIdentity {
    try {
      this.q.insert.run(a.agentId, a.publicKeyPem, a.fingerprint, 'ed25519', a.trustLevel, JSON.stringify(a.capabilities), a.profile, new Date(this.now()).toISOString(), a.expires);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new ClawguardError('conflict', `agent "${a.agentId}" is already registered (ids are never reused, even after revocation)`);
      throw e;
    }
    this.rows.delete(a.agentId);
    return this.get(a.agentId)!;
  }

  private row(agentId: string): Row | undefined {
    const t = Date.now();
    const c = this.rows.get(agentId);
    if (c && t - c.at < 1000) return c.row;
    const row = this.q.get.get(agentId);
    if (this.rows.size > 10_000) this.rows.clear();
    this.rows.set(agentId, { row, at: t });
    return row;
  }

  get(agentId: string): AgentIdentity | undefined {
    const r = this.row(agentId);
    return r ? this.view(r) : undefined;
  }

  /** The identity as the request path needs it (no lastSeen): status, trust, capabilities, profile. Frozen. */
  current(agentId: string): AgentIdentity | undefined {
    const r = this.row(agentId);
    return r ? this.view(r, false) : undefined;
  }

  list(): AgentIdentity[] {
    return this.q.list.all().map((r) => this.view(r));
  }

  revoke(agentId: string, reason = 'revoked by operator'): AgentIdentity {
    const r = this.q.get.get(agentId);
    if (!r) throw new ClawguardError('not_found', `no agent "${agentId}"`);
    this.q.revoke.run(new Date(this.now()).toISOString(), reason.slice(0, 500), agentId);
    this.rows.delete(agentId);
    this.keys.delete(agentId);
    return this.get(agentId)!;
  }

  /** The stored record (without lastSeen, frozen) and its key (cached per fingerprint); undefined when unknown. */
  resolve(agentId: string): { agent: AgentIdentity; key: KeyObject } | undefined {
    const r = this.row(agentId);
    if (!r) return undefined;
    let k = this.keys.get(agentId);
    if (!k || k.fingerprint !== r.fingerprint) {
      k = { fingerprint: r.fingerprint, key: importPublicKey(r.public_key) };
      this.keys.set(agentId, k);
    }
    return { agent: this.view(r, false), key: k.key };
  }

  /** lastSeen of an accepted request; persisted by flush(). */
  touch(agentId: string): void {
    this.seen.set(agentId, this.now());
  }

  flush(): void {
    if (this.seen.size === 0) return;
    const pending = [...this.seen];
    try {
      this.db.transaction(() => {
        for (const [id, at] of pending) {
          const iso = new Date(at).toISOString();
          this.q.touch.run(iso, id, iso);
        }
      })();
      for (const [id, at] of pending) if (this.seen.get(id) === at) this.seen.delete(id);
    } catch {
      /* the store is closing or busy; keep the values for the next flush */
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
