/**
 * Operator bearer tokens with scopes. `admin` implies `write`, which implies `read`. The token
 * file of the state dir (and CLAWGUARD_TOKEN) are admin tokens; more, narrower tokens are
 * created through the API. Only SHA-256 digests are stored; comparisons are constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ClawguardError } from '../errors/index.js';
import type { SqliteDb } from '../store/index.js';
import { parseExpiry } from './registry.js';
import { migrateIdentity } from './schema.js';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
const RANK: Record<Scope, number> = { read: 0, write: 1, admin: 2 };

export interface OperatorIdentity {
  id: string;
  name: string;
  scopes: Scope[];
}

export interface OperatorTokenInfo extends OperatorIdentity {
  created: string;
  expires?: string;
  revokedAt?: string;
  status: 'active' | 'revoked' | 'expired';
}

interface Row {
  id: string;
  name: string;
  token_hash: Buffer;
  scopes: string;
  created: string;
  expires: string | null;
  revoked_at: string | null;
}

const FORMAT = /^cg_opt_([0-9a-f]{16})\.[A-Za-z0-9_-]{43}$/;
const digest = (s: string) => createHash('sha256').update(s).digest();
const DUMMY = digest('clawguard-no-such-token');

export function hasScope(granted: readonly Scope[], needed: Scope): boolean {
  return granted.some((s) => RANK[s] >= RANK[needed]);
}

export function parseScopes(v: unknown): Scope[] {
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(list) || list.length === 0) throw new ClawguardError('bad_request', `scopes: expected one or more of ${SCOPES.join(', ')}`);
  for (const s of list) if (!SCOPES.includes(s as Scope)) throw new ClawguardError('bad_request', `scope ${JSON.stringify(s)} is not one of ${SCOPES.join(', ')}`);
  return [...new Set(list as Scope[])];
}

export interface TokenRequest {
  name: string;
  scopes: Scope[];
  expires: string | null;
}

export class OperatorTokens {
  private readonly admin: Buffer[];
  private readonly q;

  constructor(
    db: SqliteDb,
    adminTokens: string[],
    private readonly now: () => number = Date.now,
  ) {
    migrateIdentity(db);
    this.admin = [...new Set(adminTokens.filter(Boolean))].map(digest);
    this.q = {
      get: db.prepare<[string], Row>('SELECT * FROM identity_operator_tokens WHERE id = ?'),
      list: db.prepare<[], Row>('SELECT * FROM identity_operator_tokens ORDER BY created'),
      insert: db.prepare('INSERT INTO identity_operator_tokens (id, name, token_hash, scopes, created, expires) VALUES (?, ?, ?, ?, ?, ?)'),
      revoke: db.prepare('UPDATE identity_operator_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    };
  }

  /** Who the presented token belongs to, or undefined. Hash-then-compare: constant time in the token's content. */
  authenticate(presented: string): OperatorIdentity | undefined {
    const d = digest(presented);
    let adminHit = false;
    for (const a of this.admin) adminHit = timingSafeEqual(d, a) || adminHit;
    if (adminHit) return { id: 'admin', name: 'state-dir operator token', scopes: ['admin'] };
    const m = FORMAT.exec(presented);
    const row = m ? this.q.get.get(m[1]!) : undefined;
    const same = timingSafeEqual(d, row ? row.token_hash : DUMMY);
    if (!row || !same || this.status(row) !== 'active') return undefined;
    return { id: row.id, name: row.name, scopes: JSON.parse(row.scopes) as Scope[] };
  }

  private status(r: Row): OperatorTokenInfo['status'] {
    if (r.revoked_at) return 'revoked';
    if (r.expires && Date.parse(r.expires) <= this.now()) return 'expired';
    return 'active';
  }

  private view(r: Row): OperatorTokenInfo {
    return { id: r.id, name: r.name, scopes: JSON.parse(r.scopes) as Scope[], created: r.created, ...(r.expires ? { expires: r.expires } : {}), ...(r.revoked_at ? { revokedAt: r.revoked_at } : {}), status: this.status(r) };
  }

  /** Creates a token; the secret is returned once and never stored. */
  create(o: { name: string; scopes: unknown; expires?: string | number }): OperatorTokenInfo & { token: string } {
    return this.insert(this.validate(o));
  }

  /** Every check a new token must pass, without storing anything: the request in the form it will be stored. */
  validate(o: { name: unknown; scopes: unknown; expires?: string | number }): TokenRequest {
    if (typeof o.name !== 'string' || !/^[\w .:@-]{1,80}$/.test(o.name)) throw new ClawguardError('bad_request', 'name: 1-80 characters of letters, digits, space and _ . : @ -');
    const scopes = parseScopes(o.scopes);
    const expires = o.expires !== undefined ? parseExpiry(o.expires, this.now()) : null;
    return { name: o.name, scopes, expires };
  }

  /** Stores a validated request under a fresh id and secret. */
  insert(r: TokenRequest): OperatorTokenInfo & { token: string } {
    const id = randomBytes(8).toString('hex');
    const token = `cg_opt_${id}.${randomBytes(32).toString('base64url')}`;
    this.q.insert.run(id, r.name, digest(token), JSON.stringify(r.scopes), new Date(this.now()).toISOString(), r.expires);
    return { ...this.view(this.q.get.get(id)!), token };
  }

  /** The token's record, or undefined. */
  get(id: string): OperatorTokenInfo | undefined {
    const r = this.q.get.get(id);
    return r ? this.view(r) : undefined;
  }

  list(): OperatorTokenInfo[] {
    return this.q.list.all().map((r) => this.view(r));
  }

  revoke(id: string): OperatorTokenInfo {
    if (!this.q.get.get(id)) throw new ClawguardError('not_found', `no operator token ${JSON.stringify(id)}`);
    this.q.revoke.run(new Date(this.now()).toISOString(), id);
    return this.view(this.q.get.get(id)!);
  }
}
