/**
 * The signing keys' history. Each key comes with a statement signed by that key (proof that the log
 * holds it): which key it follows, from which tree size of which segment it signs, and why
 * (genesis, a rotation, a rotation after the previous key was lost, a new segment). A rotation with
 * the previous key still at hand is also endorsed by it. Witnesses pin this history; a checkpoint
 * is trusted only when signed by the key the history names for its size.
 */
import type { KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { type SigningKey, publicKeyFromSpkiBase64, signText, spkiBase64, verifyText, keyIdOf } from './keys.js';
import type { SqliteDb } from '../store/index.js';

export type KeyReason = 'genesis' | 'rotate' | 'key-lost' | 'segment';

export interface KeyStatement {
  v: 1;
  kind: 'clawguard-audit-key';
  keyId: string;
  /** SPKI DER, base64. */
  publicKey: string;
  previousKeyId: string | null;
  segment: number;
  /** The first tree size this key signs. */
  fromSize: number;
  time: string;
  reason: KeyReason;
  /** By this key. */
  signature: string;
  /** By the previous key, when it was at hand. */
  endorsement?: string;
}

type Body = Omit<KeyStatement, 'signature' | 'endorsement'>;

function bodyOf(s: Body): string {
  return canonicalize({ v: s.v, kind: s.kind, keyId: s.keyId, publicKey: s.publicKey, previousKeyId: s.previousKeyId, segment: s.segment, fromSize: s.fromSize, time: s.time, reason: s.reason })!;
}

export function makeKeyStatement(key: SigningKey, o: { previous?: { keyId: string; key?: SigningKey }; segment: number; fromSize: number; reason: KeyReason; time?: string }): KeyStatement {
  const body: Body = { v: 1, kind: 'clawguard-audit-key', keyId: key.keyId, publicKey: spkiBase64(key.publicKey), previousKeyId: o.previous?.keyId ?? null, segment: o.segment, fromSize: o.fromSize, time: o.time ?? new Date().toISOString(), reason: o.reason };
  const text = bodyOf(body);
  return { ...body, signature: signText(key.privateKey, text), ...(o.previous?.key ? { endorsement: signText(o.previous.key.privateKey, text) } : {}) };
}

const REASONS = new Set<KeyReason>(['genesis', 'rotate', 'key-lost', 'segment']);

/** A statement received from outside, checked for shape and self-signature; undefined if it is not one. */
export function parseKeyStatement(v: unknown): KeyStatement | undefined {
  const s = v as Partial<KeyStatement> | null;
  if (!s || typeof s !== 'object' || s.v !== 1 || s.kind !== 'clawguard-audit-key') return undefined;
  if (typeof s.keyId !== 'string' || !/^[0-9a-f]{32}$/.test(s.keyId) || typeof s.publicKey !== 'string' || s.publicKey.length > 200) return undefined;
  if (s.previousKeyId !== null && (typeof s.previousKeyId !== 'string' || !/^[0-9a-f]{32}$/.test(s.previousKeyId))) return undefined;
  if (!Number.isSafeInteger(s.segment) || s.segment! < 1 || !Number.isSafeInteger(s.fromSize) || s.fromSize! < 0) return undefined;
  if (typeof s.time !== 'string' || s.time.length > 40 || !REASONS.has(s.reason!) || typeof s.signature !== 'string' || s.signature.length > 200) return undefined;
  if (s.endorsement !== undefined && (typeof s.endorsement !== 'string' || s.endorsement.length > 200)) return undefined;
  let key: KeyObject;
  try {
    key = publicKeyFromSpkiBase64(s.publicKey);
  } catch {
    return undefined;
  }
  if (key.asymmetricKeyType !== 'ed25519' || keyIdOf(key) !== s.keyId) return undefined;
  const st: KeyStatement = { v: 1, kind: 'clawguard-audit-key', keyId: s.keyId, publicKey: s.publicKey, previousKeyId: s.previousKeyId ?? null, segment: s.segment!, fromSize: s.fromSize!, time: s.time, reason: s.reason!, signature: s.signature, ...(s.endorsement !== undefined ? { endorsement: s.endorsement } : {}) };
  return verifyText(key, bodyOf(st), st.signature) ? st : undefined;
}

/** Whether the statement is endorsed by the key it names as its predecessor. */
export function endorsedBy(s: KeyStatement, previous: KeyStatement | undefined): boolean {
  if (!previous || !s.endorsement || s.previousKeyId !== previous.keyId) return false;
  return verifyText(publicKeyFromSpkiBase64(previous.publicKey), bodyOf(s), s.endorsement);
}

/**
 * Why `list` is not a history, if it is not: each statement after the first names the one before;
 * within a segment sizes do not go back; a new segment starts at size 0 with reason "segment".
 */
export function historyProblem(list: KeyStatement[]): string | undefined {
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    const p = list[i - 1];
    if (!p) {
      if (s.fromSize !== 0) return `the first key ${s.keyId} must sign from size 0, not ${s.fromSize}`;
      continue;
    }
    if (s.previousKeyId !== p.keyId) return `key ${s.keyId} names ${s.previousKeyId ?? 'no key'} as its predecessor, not ${p.keyId}`;
    if (s.segment < p.segment) return `key ${s.keyId} is for segment ${s.segment}, before segment ${p.segment}`;
    if (s.segment > p.segment && (s.reason !== 'segment' || s.fromSize !== 0)) return `key ${s.keyId} opens segment ${s.segment} but is not a segment start at size 0`;
    if (s.segment === p.segment && s.fromSize < p.fromSize) return `key ${s.keyId} signs from size ${s.fromSize}, before its predecessor (${p.fromSize})`;
    if (s.segment === p.segment && s.reason === 'segment') return `key ${s.keyId} claims a new segment but stays on segment ${s.segment}`;
  }
  return undefined;
}

/** The statement of the key that signs a tree of `treeSize` on `segment`, per the history. */
export function keyForSize(list: KeyStatement[], segment: number, treeSize: number): KeyStatement | undefined {
  let found: KeyStatement | undefined;
  for (const s of list) if (s.segment === segment && s.fromSize <= treeSize) found = s;
  return found;
}

export const sameStatement = (a: KeyStatement, b: KeyStatement): boolean => a.keyId === b.keyId && a.signature === b.signature && a.segment === b.segment && a.fromSize === b.fromSize;

/**
 * The keys a verifier may trust: the history a witness pinned, extended by the log's own newer
 * statements only where each is endorsed by the key before it (a rotation the previous key
 * vouched for); an unendorsed one (the previous key was lost) is trusted once a witness pinned it.
 */
export function trustedHistory(pinned: KeyStatement[], local: KeyStatement[]): KeyStatement[] {
  const out = [...pinned];
  if (!pinned.every((s, i) => local[i] && sameStatement(s, local[i]!))) return out;
  for (let i = pinned.length; i < local.length; i++) {
    if (!endorsedBy(local[i]!, out.at(-1))) break;
    out.push(local[i]!);
  }
  return out;
}

/** The log's own copy of its key history (audit_keys), oldest first; a row that is not a valid statement is an error. */
export function readKeyHistory(db: SqliteDb): KeyStatement[] {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_keys'").get()) return [];
  const out: KeyStatement[] = [];
  for (const text of db.prepare('SELECT statement FROM audit_keys ORDER BY n').pluck().all() as string[]) {
    let st: KeyStatement | undefined;
    try {
      st = parseKeyStatement(JSON.parse(text));
    } catch {
      st = undefined;
    }
    if (!st) throw new Error('audit_keys holds a statement that is not a valid self-signed key statement');
    out.push(st);
  }
  return out;
}

export function appendKeyStatement(db: SqliteDb, s: KeyStatement): void {
  db.prepare('INSERT INTO audit_keys (key_id, statement) VALUES (?, ?)').run(s.keyId, JSON.stringify(s));
}
