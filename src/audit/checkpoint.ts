/** Signed checkpoints: tree size, Merkle root and last event hash, signed with Ed25519. */
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
}

/** The exact bytes that are signed (RFC 8785 JSON). */
export function checkpointBody(c: Pick<Checkpoint, 'treeSize' | 'time' | 'root' | 'lastHash' | 'keyId'>): string {
  return canonicalize({ v: 1, kind: 'clawguard-audit-checkpoint', treeSize: c.treeSize, time: c.time, root: c.root, lastHash: c.lastHash, keyId: c.keyId })!;
}

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

export function checkpointFromRow(r: CheckpointRow): Checkpoint {
  return { treeSize: r.tree_size, time: r.time, root: r.root, lastHash: r.last_hash, keyId: r.key_id, publicKey: r.public_key, signature: r.signature };
}
