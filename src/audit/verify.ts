/**
 * `audit verify`: recompute everything — sequence, hash chain, payload hashes, Merkle roots and
 * checkpoint signatures — from the anchor (genesis, or the checkpoint pruning left) to the end,
 * and name the first seq where the log is not what it claims to be. The events are checked in
 * aligned ranges (on this thread, or shared with worker threads for a large log), each yielding
 * its own Merkle subtrees; the ranges are folded into the tree here, in order, at each checkpoint.
 */
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { defaultDbFile, openSqlite, type SqliteDb } from '../store/index.js';
import { checkpointFromRow, checkpointSignatureOk } from './checkpoint.js';
import { CompactRange, GENESIS, pieceSizes } from './hash.js';
import { keyIdOf, publicKeyFromSpkiBase64, spkiBase64 } from './keys.js';
import { anchorOf, type CheckpointRow, hasAuditTables, segmentOfDb } from './tables.js';
import { alignedRanges, type ChunkInput, type ChunkResult, drainRanges, inOneSnapshot, newRangeQueue, stopAfter, verifyChunk } from './verify-chunk.js';

export interface VerifyResult {
  ok: boolean;
  /** Events checked. */
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Events up to this seq were pruned; verification starts from its checkpoint. */
  anchor: number;
  checkpoints: number;
  lastCheckpoint: { treeSize: number; time: string } | null;
  /** Events after the last checkpoint (chained, not yet signed). */
  unsignedTail: number;
  erasedPayloads: number;
  key: { keyId: string; source: string } | null;
  firstBadSeq?: number;
  problem?: string;
  /** The log segment verified (a log continued after a break is on segment 2 or later). */
  segment: number;
  /** Verification started at this checkpoint rather than the anchor (the start check: only the tail). */
  from?: number;
}

/** A signed tree head a witness holds: the local tree at `treeSize` must have this root. */
export interface WitnessedHead {
  name: string;
  treeSize: number;
  root: string;
}

export interface VerifyOptions {
  /** The key checkpoints must be signed with; without one, each checkpoint's embedded key is used. */
  publicKey?: KeyObject;
  keySource?: string;
  /**
   * The key that must have signed a checkpoint of this size (a witness's pinned key history);
   * takes precedence over `publicKey`. Undefined: no trusted key covers that size.
   */
  keyFor?: (treeSize: number) => { publicKey: string; keyId: string } | undefined;
  /** Heads held by witnesses: the log must reach each one's size with the same Merkle root. */
  witnessed?: WitnessedHead[];
  /** Start at this checkpoint (it must exist, at or after the anchor) instead of the anchor. */
  from?: number;
}

interface State {
  res: VerifyResult;
  opts: VerifyOptions;
  trustedSpki: string | undefined;
  /** Where verification starts: the anchor, or the checkpoint `from`. */
  start: number;
  cps: CheckpointRow[];
  /** Witnessed heads inside the verified range, by size. */
  heads: Map<number, WitnessedHead[]>;
  ci: number;
  frontier: CompactRange;
  prev: string;
  anchorClaim: string | undefined;
  anchorClaimSeen: boolean;
  maxSeq: number;
}

/** A failed result; the counts describe the events that verified before the bad one. */
const bad = (s: State, seq: number, problem: string): VerifyResult => {
  const events = Math.max(0, Math.min(seq - 1, s.maxSeq) - s.start);
  return { ...s.res, ok: false, events, firstSeq: events ? s.start + 1 : null, lastSeq: events ? s.start + events : null, firstBadSeq: seq, problem };
};

/** Why checkpoint `cp` is not signed by the key trusted for its size, if it is not. */
function keyProblem(s: State, cp: ReturnType<typeof checkpointFromRow>, what: string): string | undefined {
  if (s.opts.keyFor) {
    const k = s.opts.keyFor(cp.treeSize);
    if (!k) return `${what} is signed by key ${cp.keyId}, and no trusted key covers a tree of ${cp.treeSize} events`;
    if (cp.publicKey !== k.publicKey) return `${what} is signed by key ${cp.keyId}, not the trusted key ${k.keyId}`;
    let key: KeyObject;
    try {
      key = publicKeyFromSpkiBase64(k.publicKey);
    } catch {
      return `${what}: the trusted key ${k.keyId} is unreadable`;
    }
    const sig = checkpointSignatureOk(cp, key);
    return sig.ok ? undefined : `${what}: ${sig.reason}`;
  }
  if (s.trustedSpki && cp.publicKey !== s.trustedSpki) return `${what} is signed by key ${cp.keyId}, not the trusted key ${s.res.key!.keyId}`;
  const sig = checkpointSignatureOk(cp, s.opts.publicKey);
  return sig.ok ? undefined : `${what}: ${sig.reason}`;
}

/** A witnessed head at `size` whose root the local tree (`root`) does not have, if any. */
function headProblem(s: State, size: number, root: string): string | undefined {
  for (const h of s.heads.get(size) ?? []) {
    if (h.root !== root) return `the log is not what the witness at ${h.name} saw: its first ${size} events have a different Merkle root than the head the witness holds (rewritten)`;
  }
  return undefined;
}

/** Read the anchor and the checkpoints; an early result when the anchor itself does not hold. */
function begin(db: SqliteDb, opts: VerifyOptions): State | VerifyResult {
  const res: VerifyResult = {
    ok: true, events: 0, firstSeq: null, lastSeq: null, anchor: 0, checkpoints: 0, lastCheckpoint: null, unsignedTail: 0, erasedPayloads: 0,
    key: opts.publicKey ? { keyId: keyIdOf(opts.publicKey), source: opts.keySource ?? 'given' } : null, segment: 1,
  };
  if (!hasAuditTables(db)) {
    const s = { res, start: 0, maxSeq: 0 } as State;
    const w = (opts.witnessed ?? []).filter((h) => h.treeSize > 0).sort((a, b) => b.treeSize - a.treeSize)[0];
    return w ? bad(s, 1, `events 1..${w.treeSize} are missing: the log is empty, but the witness at ${w.name} saw a tree of ${w.treeSize}`) : res;
  }
  const anchor = anchorOf(db);
  res.anchor = anchor;
  res.segment = segmentOfDb(db);
  const start = opts.from !== undefined && opts.from > anchor ? opts.from : anchor;
  if (start !== anchor) res.from = start;
  const heads = new Map<number, WitnessedHead[]>();
  for (const h of opts.witnessed ?? []) heads.set(h.treeSize, [...(heads.get(h.treeSize) ?? []), h]);
  const s: State = {
    res, opts, trustedSpki: opts.publicKey ? spkiBase64(opts.publicKey) : undefined, start, heads,
    cps: db.prepare('SELECT * FROM audit_checkpoints WHERE tree_size >= ? ORDER BY tree_size').all(start) as CheckpointRow[],
    ci: 0, frontier: new CompactRange(), prev: GENESIS, anchorClaim: start === anchor && anchor > 0 ? `seq:${anchor}` : undefined, anchorClaimSeen: !(start === anchor && anchor > 0),
    maxSeq: ((db.prepare('SELECT MAX(seq) AS m FROM audit_events').get() as { m: number | null }).m ?? anchor),
  };
  if (opts.keyFor) res.key = null;
  const below = (opts.witnessed ?? []).find((h) => h.treeSize > 0 && h.treeSize < start);
  if (below) return bad(s, below.treeSize, `the witness at ${below.name} holds a tree of ${below.treeSize} events, older than seq ${start} where ${start === anchor ? 'the log now starts (pruned)' : 'verification starts'}: its consistency cannot be checked`);
  if (start > 0) {
    const what = start === anchor ? 'anchor checkpoint' : 'checkpoint';
    const a = s.cps[0];
    if (!a || a.tree_size !== start) return bad(s, start + 1, start === anchor ? `the log was pruned up to seq ${anchor} but the anchor checkpoint at seq ${anchor} is missing` : `there is no checkpoint at seq ${start} to start from`);
    try {
      s.frontier = CompactRange.fromHex(start, JSON.parse(a.frontier) as string[]);
    } catch (e) {
      return bad(s, start, `${what} at seq ${start}: unreadable subtree roots (${(e as Error).message})`);
    }
    const cp = checkpointFromRow(a, res.segment);
    const kp = keyProblem(s, cp, `${what} at seq ${start}`);
    if (kp) return bad(s, start, kp);
    if (cp.root !== s.frontier.root().toString('hex')) return bad(s, start, `${what} at seq ${start}: its subtree roots do not give its Merkle root`);
    const hp = headProblem(s, start, cp.root);
    if (hp) return bad(s, start, hp);
    s.prev = cp.lastHash;
    s.ci = 1;
    res.checkpoints = 1;
    res.lastCheckpoint = { treeSize: cp.treeSize, time: cp.time };
  }
  return s;
}

function checkpointProblem(s: State, row: CheckpointRow, lastHash: string, frontier = s.frontier): string | undefined {
  const cp = checkpointFromRow(row, s.res.segment);
  const kp = keyProblem(s, cp, `checkpoint at seq ${cp.treeSize}`);
  if (kp) return kp;
  if (cp.lastHash !== lastHash) return `checkpoint at seq ${cp.treeSize}: its last hash is not the hash of event ${cp.treeSize}`;
  if (cp.root !== frontier.root().toString('hex')) return `checkpoint at seq ${cp.treeSize}: the Merkle root does not match the events`;
  if (row.frontier !== JSON.stringify(frontier.toHex())) return `checkpoint at seq ${cp.treeSize}: its stored subtree roots do not match the events`;
  return undefined;
}

/** Fold one verified range (events from+1 …, aligned: its subtrees join the tree whole), checking the checkpoints it reaches. */
function consume(s: State, from: number, c: ChunkResult): VerifyResult | undefined {
  // The first event's link is checked here, before anything else about it, as a single pass would.
  if (c.firstPrev !== undefined && c.firstPrev !== s.prev) return bad(s, from + 1, `event ${from + 1}: its previous-hash does not match ${from === 0 ? 'the genesis hash' : `event ${from}`}`);
  const join = (size: number, pieces: string[]): CompactRange => {
    const f = s.frontier.clone();
    const sizes = pieceSizes(size);
    pieces.forEach((h, i) => f.appendSubtree(Buffer.from(h, 'hex'), sizes[i]!));
    return f;
  };
  for (const at of c.atCheckpoints) {
    if (s.heads.has(at.seq)) {
      const problem = headProblem(s, at.seq, join(at.size, at.pieces).root().toString('hex'));
      if (problem) return bad(s, at.seq, problem);
    }
    while (s.ci < s.cps.length && s.cps[s.ci]!.tree_size === at.seq) {
      const problem = checkpointProblem(s, s.cps[s.ci]!, at.hash, join(at.size, at.pieces));
      if (problem) return bad(s, at.seq, problem);
      s.res.checkpoints++;
      s.res.lastCheckpoint = { treeSize: at.seq, time: s.cps[s.ci]!.time };
      s.ci++;
    }
  }
  s.frontier = join(c.local.size, c.local.pieces);
  if (c.count > 0) {
    s.res.events += c.count;
    s.res.firstSeq ??= from + 1;
    s.res.lastSeq = from + c.count;
    s.prev = c.lastHash!;
  }
  s.res.erasedPayloads += c.erased;
  if (c.anchorClaimSeen) s.anchorClaimSeen = true;
  if (c.bad) return bad(s, c.bad.seq, c.bad.problem);
  return undefined;
}

function finish(s: State): VerifyResult {
  const anchor = s.res.anchor;
  if (!s.anchorClaimSeen) return bad(s, anchor + 1, `the log claims to be pruned up to seq ${anchor}, but no audit.prune event in the chain records that prune`);
  if (s.ci < s.cps.length) return bad(s, s.cps[s.ci]!.tree_size, `checkpoint at seq ${s.cps[s.ci]!.tree_size} covers events that are not in the log (truncated)`);
  const last = s.res.lastSeq ?? s.start;
  const ahead = (s.opts.witnessed ?? []).filter((h) => h.treeSize > last).sort((a, b) => b.treeSize - a.treeSize)[0];
  if (ahead) return bad(s, last + 1, `events ${last + 1}..${ahead.treeSize} are missing: the witness at ${ahead.name} saw a tree of ${ahead.treeSize}`);
  s.res.unsignedTail = last - (s.res.lastCheckpoint?.treeSize ?? s.start);
  return s.res;
}

/** The ranges to verify, anchor to end: aligned on powers of two up to `max` events, each with the checkpoints it reaches. */
function rangesOf(s: State, max: number): ChunkInput[] {
  // the sizes at which the tree is reported: every checkpoint and every witnessed head, once each, in order
  const cps = [...new Set([...s.cps.map((c) => c.tree_size), ...s.heads.keys()])].sort((a, b) => a - b);
  let k = 0;
  return alignedRanges(s.start, s.maxSeq, max).map((r) => {
    const checkpoints: number[] = [];
    while (k < cps.length && cps[k]! <= r.from) k++;
    for (let j = k; j < cps.length && cps[j]! <= r.to; j++) checkpoints.push(cps[j]!);
    return { ...r, checkpoints, ...(s.anchorClaim ? { anchorClaim: s.anchorClaim } : {}) };
  });
}

/** Ranges on one thread: large, since only the first failure matters and the fold per range is cheap. */
const ONE_THREAD_RANGE = 65_536;
/** Ranges on several threads: small enough to balance the threads, large enough that their overhead does not show. */
const MAX_SHARED_RANGE = 8192;

function onThisThread(db: SqliteDb, s: State): VerifyResult {
  for (const r of rangesOf(s, ONE_THREAD_RANGE)) {
    const failed = consume(s, r.from, verifyChunk(db, r));
    if (failed) return failed;
  }
  return finish(s);
}

export function verifyAuditLog(db: SqliteDb, opts: VerifyOptions = {}): VerifyResult {
  return inOneSnapshot(db, () => {
    const s = begin(db, opts);
    return 'cps' in s ? onThisThread(db, s) : s;
  });
}

/**
 * The same verification, with a large log's ranges shared out between this thread and worker
 * threads (each on its own read-only connection): every thread takes the next range from a shared
 * counter, so a worker that starts late or a busy core simply takes fewer; this thread then folds
 * the results into the Merkle tree in order and checks the checkpoints.
 */
export async function verifyAuditLogParallel(
  stateDirOrFile: { stateDir: string } | { file: string },
  opts: VerifyOptions & {
    /** Worker threads besides this one (default: one fewer than the cores, at most 3). */
    workers?: number;
    /**
     * Below twice this many events everything stays on this thread (default 15,000: a worker takes
     * some 50 ms to start, in which this thread verifies about 10,000 events).
     */
    minEventsPerWorker?: number;
    /** Whether this thread verifies ranges too (default true; false leaves them all to the workers). */
    mainThread?: boolean;
  } = {},
): Promise<VerifyResult> {
  const file = 'file' in stateDirOrFile ? stateDirOrFile.file : defaultDbFile(stateDirOrFile.stateDir);
  const db = openSqlite({ file, readonly: true });
  try {
    const s = begin(db, opts);
    if (!('cps' in s)) return s;
    const total = s.maxSeq - s.start;
    const workers = opts.workers ?? Math.min(availableParallelism(), 4) - 1;
    const threads = workers + (opts.mainThread === false ? 0 : 1);
    if (workers < 1 || total < 2 * (opts.minEventsPerWorker ?? 15_000)) return inOneSnapshot(db, () => onThisThread(db, s));
    let max = 1;
    while (max * 2 <= Math.min(MAX_SHARED_RANGE, total / (threads * 16))) max *= 2;
    const q = newRangeQueue(rangesOf(s, max));
    const results: Array<ChunkResult | undefined> = [];
    let failure: Error | undefined;
    let running = workers;
    let wake = () => {};
    for (let k = 0; k < workers; k++) {
      const w = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { file, ...q } });
      let finished = false;
      const end = (err?: Error) => {
        if (finished) return;
        finished = true;
        running--;
        if (err) failure ??= err;
        wake();
      };
      w.on('message', (m: { i: number; r: ChunkResult } | { done: true } | { error: string }) => {
        if ('i' in m) results[m.i] = m.r;
        else end('error' in m ? new Error(m.error) : undefined);
        wake();
      });
      w.once('error', end);
      w.once('exit', (code) => end(code === 0 ? undefined : new Error(`verify worker exited with ${code}`)));
    }
    try {
      if (opts.mainThread !== false) drainRanges(db, q, (i, r) => (results[i] = r));
      for (let i = 0; i < q.ranges.length; i++) {
        while (results[i] === undefined) {
          if (failure) throw failure;
          if (running === 0) throw new Error(`verify workers ended without verifying events ${q.ranges[i]!.from + 1}..${q.ranges[i]!.to}`);
          await new Promise<void>((resolve) => (wake = resolve));
        }
        const failed = consume(s, q.ranges[i]!.from, results[i]!);
        if (failed) return failed;
      }
    } finally {
      stopAfter(q, -1);
    }
    return finish(s);
  } finally {
    db.close();
  }
}
