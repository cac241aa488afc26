/** Inclusion proofs (RFC 9162 §2.1.3): one event is in the tree a signed checkpoint commits to. */
import type { KeyObject } from 'node:crypto';
import { ClawguardError } from '../errors/index.js';
import type { SqliteDb } from '../store/index.js';
import { canonicalCore, type EventCore } from './canonical.js';
import { type Checkpoint, checkpointFromRow, checkpointSignatureOk } from './checkpoint.js';
import { CompactRange, eventHash, inclusionPath, leafOf, verifyInclusion } from './hash.js';
import { spkiBase64 } from './keys.js';
import { anchorOf, type CheckpointRow, coreOf, type EventRow, hasAuditTables, segmentOfDb } from './tables.js';

export interface InclusionProof {
  v: 1;
  kind: 'clawguard-audit-inclusion-proof';
  seq: number;
  leafIndex: number;
  treeSize: number;
  event: EventCore;
  eventHash: string;
  path: string[];
  checkpoint: Checkpoint;
}

export function buildInclusionProof(db: SqliteDb, seq: number): InclusionProof {
  if (!hasAuditTables(db)) throw new ClawguardError('not_found', 'the audit log is empty');
  const anchor = anchorOf(db);
  if (seq <= anchor) throw new ClawguardError('not_found', `event ${seq} was pruned (retention); the log starts after seq ${anchor}`);
  const row = db.prepare('SELECT * FROM audit_events WHERE seq = ?').get(seq) as EventRow | undefined;
  if (!row) throw new ClawguardError('not_found', `no audit event ${seq}`);
  const cpRow = db.prepare('SELECT * FROM audit_checkpoints WHERE tree_size >= ? ORDER BY tree_size DESC LIMIT 1').get(seq) as CheckpointRow | undefined;
  if (!cpRow) throw new ClawguardError('conflict', `event ${seq} is not covered by a signed checkpoint yet (one is written every few seconds); try again shortly`);
  const size = cpRow.tree_size;
  const leaves: Buffer[] = [];
  for (const h of db.prepare('SELECT hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq').pluck().iterate(anchor, size) as IterableIterator<string>) leaves.push(leafOf(h));
  if (leaves.length !== size - anchor) throw new ClawguardError('conflict', `events between seq ${anchor + 1} and ${size} are missing; run "clawguard audit verify"`);
  let known: Map<string, Buffer> | undefined;
  if (anchor > 0) {
    const a = db.prepare('SELECT frontier FROM audit_checkpoints WHERE tree_size = ?').get(anchor) as { frontier: string } | undefined;
    if (!a) throw new ClawguardError('conflict', `the anchor checkpoint at seq ${anchor} is missing`);
    known = CompactRange.fromHex(anchor, JSON.parse(a.frontier) as string[]).ranges();
  }
  const path = inclusionPath(seq - 1, size, (i) => leaves[i - anchor]!, known);
  return {
    v: 1,
    kind: 'clawguard-audit-inclusion-proof',
    seq,
    leafIndex: seq - 1,
    treeSize: size,
    event: coreOf(row),
    eventHash: row.hash,
    path: path.map((p) => p.toString('hex')),
    checkpoint: checkpointFromRow(cpRow, segmentOfDb(db)),
  };
}

export interface ProofCheck {
  ok: boolean;
  problem?: string;
  /** Whether the checkpoint key was checked against a trusted key (else only the embedded one). */
  keyPinned: boolean;
}

export function verifyInclusionProof(p: InclusionProof, trusted?: KeyObject): ProofCheck {
  const keyPinned = !!trusted;
  const no = (problem: string): ProofCheck => ({ ok: false, problem, keyPinned });
  if (p?.kind !== 'clawguard-audit-inclusion-proof' || p.v !== 1) return no('not a clawguard audit inclusion proof');
  let hash: string;
  try {
    hash = eventHash(canonicalCore(p.event));
  } catch (e) {
    return no(`the event is malformed: ${(e as Error).message}`);
  }
  if (hash !== p.eventHash) return no(`event ${p.seq}: its contents do not match its hash`);
  if (p.event.seq !== p.seq || p.leafIndex !== p.seq - 1) return no('the event, seq and leaf index disagree');
  if (p.checkpoint.treeSize !== p.treeSize) return no('the checkpoint is for a different tree size');
  if (trusted && p.checkpoint.publicKey !== spkiBase64(trusted)) return no('the checkpoint is not signed by the trusted key');
  const sig = checkpointSignatureOk(p.checkpoint, trusted);
  if (!sig.ok) return no(`checkpoint: ${sig.reason}`);
  let path: Buffer[];
  try {
    path = p.path.map((h) => {
      if (!/^[0-9a-f]{64}$/.test(h)) throw new Error('bad hash');
      return Buffer.from(h, 'hex');
    });
  } catch {
    return no('the audit path contains something that is not a SHA-256 hash');
  }
  if (!verifyInclusion(p.leafIndex, p.treeSize, leafOf(hash), path, Buffer.from(p.checkpoint.root, 'hex'))) return no(`event ${p.seq} is not in the tree of ${p.treeSize} events the checkpoint signs`);
  return { ok: true, keyPinned };
}
