/**
 * Verification of one contiguous range of events: sequence, chain links inside the range, event
 * hashes, payload hashes. Runs on the calling thread or in a worker (verify-worker.ts); the
 * caller stitches ranges together and checks the Merkle tree and the checkpoints.
 */
import type { SqliteDb } from '../store/index.js';
import { canonicalFromColumns, type RawEventColumns } from './canonical.js';
import { CompactRange, eventHashBytes, sha256Hex } from './hash.js';

export interface ChunkInput {
  /** Events with seq in (from, to]. */
  from: number;
  to: number;
  /**
   * When `from` is a multiple of a power of two at least as large as the range, the range's own
   * Merkle subtrees are computed here (and its frontier at each of `checkpoints`) instead of
   * returning every leaf for the caller to fold.
   */
  aligned?: boolean;
  checkpoints?: number[];
  /** The resource an audit.prune event must carry to vouch for the anchor (`seq:N`), if any. */
  anchorClaim?: string;
}

export interface ChunkResult {
  /** Events verified (before the first problem, if any). */
  count: number;
  /** prev_hash of the first event (checked by the caller against the previous range). */
  firstPrev: string | null;
  lastHash: string | null;
  erased: number;
  anchorClaimSeen: boolean;
  /** 32 bytes per verified event: its hash, the Merkle leaf (not aligned: empty otherwise). */
  leaves: Uint8Array;
  /** Aligned ranges: the range's subtree roots (local), and at each checkpoint seq the event hash and the local subtree roots. */
  local?: { size: number; pieces: string[] };
  atCheckpoints?: Array<{ seq: number; hash: string; size: number; pieces: string[] }>;
  bad?: { seq: number; problem: string };
}

export const CHUNK_SQL =
  'SELECT e.seq, e.time, e.type, e.agent_id, e.run_id, e.subject, e.action, e.resource, e.decision, e.tier, e.policies, e.payload_hash, e.prev_hash, e.hash, e.payload_salt, e.payload FROM audit_events e WHERE e.seq > ? AND e.seq <= ? ORDER BY e.seq';

export function verifyChunk(db: SqliteDb, c: ChunkInput): ChunkResult {
  const leaves = new Uint8Array(c.aligned ? 0 : Math.max(0, c.to - c.from) * 32);
  const res: ChunkResult = { count: 0, firstPrev: null, lastHash: null, erased: 0, anchorClaimSeen: false, leaves };
  const local = c.aligned ? new CompactRange() : undefined;
  const cps = new Set(c.checkpoints ?? []);
  if (local) res.atCheckpoints = [];
  const finish = () => {
    if (local) res.local = { size: local.size, pieces: local.toHex() };
    return res;
  };
  const done = (seq: number, problem: string): ChunkResult => ({ ...finish(), leaves: leaves.subarray(0, local ? 0 : res.count * 32), bad: { seq, problem } });
  let expected = c.from + 1;
  let prev: string | null = null;
  const view = Buffer.from(leaves.buffer, leaves.byteOffset, leaves.byteLength);
  for (const r of db.prepare(CHUNK_SQL).raw().iterate(c.from, c.to) as IterableIterator<RawEventColumns>) {
    const seq = r[0];
    const stored = r[13] as string;
    if (seq !== expected) return done(expected, seq > expected ? `event ${expected} is missing (the next stored event is ${seq})` : `event ${seq} is out of order`);
    const prevHash = r[12];
    if (prev === null) res.firstPrev = prevHash;
    else if (prevHash !== prev) return done(seq, `event ${seq}: its previous-hash does not match event ${seq - 1}`);
    if (typeof r[1] !== 'string' || typeof r[2] !== 'string' || typeof stored !== 'string') return done(seq, `event ${seq} is unreadable`);
    const digest = eventHashBytes(canonicalFromColumns(r));
    const hash = digest.toString('hex');
    if (hash !== stored) return done(seq, `event ${seq}: its contents do not match its hash (altered)`);
    const salt = r[14] as string | null;
    const payload = r[15] as string | null;
    if (payload === null || salt === null) res.erased++;
    else if (sha256Hex(salt + payload) !== r[11]) return done(seq, `event ${seq}: its payload does not match the payload hash (altered)`);
    if (c.anchorClaim && r[2] === 'audit.prune' && r[7] === c.anchorClaim) res.anchorClaimSeen = true;
    if (local) {
      local.append(digest);
      if (cps.has(seq)) res.atCheckpoints!.push({ seq, hash, size: local.size, pieces: local.toHex() });
    } else digest.copy(view, res.count * 32);
    res.count++;
    res.lastHash = hash;
    prev = hash;
    expected++;
  }
  if (expected <= c.to) return done(expected, `event ${expected} is missing (the log ends at ${expected - 1})`);
  return finish();
}
