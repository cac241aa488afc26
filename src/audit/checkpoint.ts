/**
 * Signed checkpoints (signed tree heads): tree size, Merkle root and last event hash, signed with
 * Ed25519. A log that continued on a new segment after a break names its segment (from 2 on), so a
 * head of one segment can never pass for a head of another.
 */
import type { KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { publicKeyFromSpkiBase64, signText, verifyText } from './keys.js';
import type { CheckpointRow } from './tables.js';

export interface Checkpoint {
  treeSize: number;
  time: string;
  root: string;
  lastHash: string;
  keyId: string;
  publicKey: string;
  signature: string;
  /** The log segment (absent: 1). */
  segment?: number;
}

/** The exact bytes that are signed (RFC 8785 JSON). */
export function checkpointBody(c: Pick<Checkpoint, 'treeSize' | 'time' | 'root' | 'lastHash' | 'keyId' | 'segment'>): string {
  return canonicalize({ v: 1, kind: 'clawguard-audit-checkpoint', treeSize: c.treeSize, time: c.time, root: c.root, lastHash: c.lastHash, keyId: c.keyId, ...((c.segment ?? 1) > 1 ? { segment: c.segment } : {}) })!;
}

export const segmentOf = (c: { segment?: number }): number => c.segment ?? 1;

export function signCheckpoint(c: Omit<Checkpoint, 'signature'>, key: KeyObject): Checkpoint {
  return { ...c, signature: signText(key, checkpointBody(c)) };
}

/** Checks the signature with the trusted key (or the embedded one when no key is trusted). */
export function checkpointSignatureOk(c: Checkpoint, trusted?: KeyObject): { ok: boolean; reason?: string } {
  let key: KeyObject;
  try {
    key = trusted ?? publicKeyFromSpkiBase64(c.publicKey);
  } catch {
    return { ok: false, reason: 'the embedded public key is not readable' };
  }
  if (!verifyText(key, checkpointBody(c), c.signature)) return { ok: false, reason: trusted ? 'signature does not verify with the gateway key' : 'signature does not verify' };
  return { ok: true };
}

export function checkpointFromRow(r: CheckpointRow, segment = 1): Checkpoint {
  return { treeSize: r.tree_size, time: r.time, root: r.root, lastHash: r.last_hash, keyId: r.key_id, publicKey: r.public_key, signature: r.signature, ...(segment > 1 ? { segment } : {}) };
}

/** A checkpoint received from outside (a witness, a request body), checked for shape; undefined if it is not one. */
export function parseCheckpoint(v: unknown): Checkpoint | undefined {
  const c = v as Partial<Checkpoint> | null;
  if (!c || typeof c !== 'object') return undefined;
  const hex64 = (x: unknown) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x);
  if (!Number.isSafeInteger(c.treeSize) || c.treeSize! < 0 || !hex64(c.root) || !hex64(c.lastHash)) return undefined;
  if (typeof c.time !== 'string' || c.time.length > 40 || typeof c.keyId !== 'string' || !/^[0-9a-f]{32}$/.test(c.keyId)) return undefined;
  if (typeof c.publicKey !== 'string' || c.publicKey.length > 200 || typeof c.signature !== 'string' || c.signature.length > 200) return undefined;
  if (c.segment !== undefined && (!Number.isSafeInteger(c.segment) || c.segment < 2)) return undefined;
  return { treeSize: c.treeSize!, time: c.time, root: c.root!, lastHash: c.lastHash!, keyId: c.keyId, publicKey: c.publicKey, signature: c.signature, ...(c.segment !== undefined ? { segment: c.segment } : {}) };
}
