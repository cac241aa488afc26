/**
 * Consistency proofs from the log's own tables: the tree of `from` events to the tree of `to`,
 * built from the subtree roots of a tree at or below `from` (the head last published, or the
 * nearest stored checkpoint) and the event hashes after it. Runs in the proof worker, off the
 * gateway's event loop, and in the CLI.
 */
import type { SqliteDb } from '../store/index.js';
import { consistencyPath } from './consistency.js';
import { CompactRange, leafOf, subtreeHash } from './hash.js';
import { anchorOf } from './tables.js';

export interface ProofRequest {
  from: number;
  to: number;
  /** Subtree roots of a tree of `size` <= from that the log is known to extend (saves reading back to a checkpoint). */
  base?: { size: number; pieces: string[] };
}

export interface ProofResult {
  path: string[];
  /** The Merkle roots of the trees of `from` and `to` events, as the stored events give them. */
  rootFrom: string;
  rootTo: string;
  /** Subtree roots of the tree of `to` events. */
  piecesTo: string[];
}

export function consistencyFromDb(db: SqliteDb, req: ProofRequest): ProofResult {
  const { from, to } = req;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to) throw new Error(`no consistency proof from ${from} to ${to} events`);
  const anchor = anchorOf(db);
  let base = req.base && req.base.size <= from && req.base.size >= anchor ? CompactRange.fromHex(req.base.size, req.base.pieces) : undefined;
  if (!base) {
    const cp = db.prepare('SELECT tree_size, frontier FROM audit_checkpoints WHERE tree_size <= ? AND tree_size >= ? ORDER BY tree_size DESC LIMIT 1').get(from, anchor) as { tree_size: number; frontier: string } | undefined;
    if (cp) base = CompactRange.fromHex(cp.tree_size, JSON.parse(cp.frontier) as string[]);
    else if (anchor === 0) base = new CompactRange();
    else throw new Error(`events up to seq ${anchor} were pruned: no proof from a tree of ${from} events`);
  }
  const start = base.size;
  const leaves = (db.prepare('SELECT hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq').pluck().all(start, to) as string[]).map(leafOf);
  if (leaves.length !== to - start) throw new Error(`events ${start + 1}..${to} are not all in the log (found ${leaves.length} of ${to - start})`);
  const known = base.ranges();
  const leaf = (i: number): Buffer => {
    const l = leaves[i - start];
    if (!l) throw new Error(`leaf ${i} is not available to the proof`);
    return l;
  };
  const node = (lo: number, hi: number) => subtreeHash(lo, hi, leaf, known);
  const path = consistencyPath(from, to, node);
  const top = base.clone();
  for (const l of leaves) top.append(l);
  return { path: path.map((p) => p.toString('hex')), rootFrom: node(0, from).toString('hex'), rootTo: top.root().toString('hex'), piecesTo: top.toHex() };
}
