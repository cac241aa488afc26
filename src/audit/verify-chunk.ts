/**
 * Verification of one contiguous, aligned range of events: sequence, chain links inside the
 * range, event hashes, payload hashes, and the range's own Merkle subtrees. Runs on the calling
 * thread or in a worker (verify-worker.ts); the caller stitches ranges together in order and
 * checks the tree against the checkpoints.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDb } from '../store/index.js';
import { leafInputFromColumns, type RawEventColumns } from './canonical.js';
import { FlatRange, sha256Hex } from './hash.js';

export interface ChunkInput {
  /**
   * Events with seq in (from, to]. `from` must be a multiple of a power of two at least as large
   * as the range, so the range's subtrees join the tree whole (see alignedRanges).
   */
  from: number;
  to: number;
  /** Checkpoint seqs in the range: the range's subtree roots are reported at each. */
  checkpoints?: number[];
  /** The resource an audit.prune event must carry to vouch for the anchor (`seq:N`), if any. */
  anchorClaim?: string;
}

export interface ChunkResult {
  /** Events verified (before the first problem, if any). */
  count: number;
  /**
   * prev_hash of the first event, once its seq checked out (the caller checks it against the
   * previous range); absent when the range has no such event. Whatever the column holds, even null.
   */
  firstPrev?: unknown;
  lastHash: string | null;
  erased: number;
  anchorClaimSeen: boolean;
  /** The range's subtree roots (local to the range), and at each checkpoint seq the event hash and the subtree roots so far. */
  local: { size: number; pieces: string[] };
  atCheckpoints: Array<{ seq: number; hash: string; size: number; pieces: string[] }>;
  bad?: { seq: number; problem: string };
}

/** Split (from, to] into ranges each aligned on a power of two no larger than `max`, in order. */
export function alignedRanges(from: number, to: number, max: number): Array<{ from: number; to: number }> {
  const out: Array<{ from: number; to: number }> = [];
  for (let lo = from; lo < to; ) {
    let size = max;
    while (lo % size !== 0) size /= 2;
    const hi = Math.min(to, lo + size);
    out.push({ from: lo, to: hi });
    lo = hi;
  }
  return out;
}

export const CHUNK_SQL =
  'SELECT e.seq, e.time, e.type, e.agent_id, e.run_id, e.subject, e.action, e.resource, e.decision, e.tier, e.policies, e.payload_hash, e.prev_hash, e.hash, e.payload_salt, e.payload FROM audit_events e WHERE e.seq > ? AND e.seq <= ? ORDER BY e.seq';

/** Rows are read in batches: one native call per batch costs less than one per row. */
const BATCH = 512;
const statements = new WeakMap<SqliteDb, Statement>();

function statement(db: SqliteDb): Statement {
  let st = statements.get(db);
  if (!st) statements.set(db, (st = db.prepare(CHUNK_SQL).raw()));
  return st;
}

/**
 * Run `fn` in one read transaction, so that everything it reads is one snapshot of the log (rows
 * are read in several batches), or in the caller's transaction if one is open.
 */
export function inOneSnapshot<T>(db: SqliteDb, fn: () => T): T {
  if (db.inTransaction) return fn();
  db.exec('BEGIN');
  try {
    return fn();
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
}

export function verifyChunk(db: SqliteDb, c: ChunkInput): ChunkResult {
  return inOneSnapshot(db, () => checkRange(db, c));
}

function checkRange(db: SqliteDb, c: ChunkInput): ChunkResult {
  const local = new FlatRange();
  const res: ChunkResult = { count: 0, lastHash: null, erased: 0, anchorClaimSeen: false, local: { size: 0, pieces: [] }, atCheckpoints: [] };
  const cps = c.checkpoints ?? [];
  let nextCp = 0;
  while (nextCp < cps.length && cps[nextCp]! <= c.from) nextCp++;
  const cpSeq = () => (nextCp < cps.length ? cps[nextCp]! : -1);
  let atCp = cpSeq();
  const claim = c.anchorClaim;
  let expected = c.from + 1;
  let prev: string | null = null;
  const done = (seq: number, problem: string): ChunkResult => {
    res.lastHash = prev;
    res.local = { size: local.size, pieces: local.toHex() };
    res.bad = { seq, problem };
    return res;
  };
  const st = statement(db);
  for (let lo = c.from; lo < c.to; lo += BATCH) {
    const rows = st.all(lo, Math.min(c.to, lo + BATCH)) as RawEventColumns[];
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const seq = r[0];
      if (seq !== expected) return done(expected, seq > expected ? `event ${expected} is missing (the next stored event is ${seq})` : `event ${seq} is out of order`);
      const prevHash = r[12];
      if (prev === null) res.firstPrev = prevHash;
      else if (prevHash !== prev) return done(seq, `event ${seq}: its previous-hash does not match event ${seq - 1}`);
      const stored = r[13];
      if (typeof r[1] !== 'string' || typeof r[2] !== 'string' || typeof stored !== 'string') return done(seq, `event ${seq} is unreadable`);
      // the event hash is the RFC 6962 leaf hash: SHA-256 of 0x00 and the canonical form
      const hash = sha256Hex(leafInputFromColumns(r));
      if (hash !== stored) return done(seq, `event ${seq}: its contents do not match its hash (altered)`);
      const salt = r[14] as string | null;
      const payload = r[15] as string | null;
      if (payload === null || salt === null) res.erased++;
      else if (sha256Hex(salt + payload) !== r[11]) return done(seq, `event ${seq}: its payload does not match the payload hash (altered)`);
      if (claim !== undefined && r[2] === 'audit.prune' && r[7] === claim) res.anchorClaimSeen = true;
      local.appendHex(hash);
      if (seq === atCp) {
        res.atCheckpoints.push({ seq, hash, size: local.size, pieces: local.toHex() });
        nextCp++;
        atCp = cpSeq();
      }
      res.count++;
      prev = hash;
      expected++;
    }
  }
  res.lastHash = prev;
  if (expected <= c.to) return done(expected, `event ${expected} is missing (the log ends at ${expected - 1})`);
  res.local = { size: local.size, pieces: local.toHex() };
  return res;
}

/**
 * Ranges shared between threads: control[0] is the next range to take, control[1] the last
 * range still needed (lowered when a range fails: nothing after the first failure matters).
 */
export interface RangeQueue {
  ranges: ChunkInput[];
  control: Int32Array;
}

export function newRangeQueue(ranges: ChunkInput[]): RangeQueue {
  const control = new Int32Array(new SharedArrayBuffer(8));
  control[1] = ranges.length;
  return { ranges, control };
}

/** Nothing after range `i` is needed any more. */
export function stopAfter(q: RangeQueue, i: number): void {
  let cur = Atomics.load(q.control, 1);
  while (i < cur) {
    const was = Atomics.compareExchange(q.control, 1, cur, i);
    if (was === cur) return;
    cur = was;
  }
}

/** Verify ranges taken from the queue until none is left (or none still needed). */
export function drainRanges(db: SqliteDb, q: RangeQueue, done: (i: number, r: ChunkResult) => void): void {
  for (;;) {
    const i = Atomics.add(q.control, 0, 1);
    if (i >= q.ranges.length || i > Atomics.load(q.control, 1)) return;
    const r = verifyChunk(db, q.ranges[i]!);
    if (r.bad) stopAfter(q, i);
    done(i, r);
  }
}
