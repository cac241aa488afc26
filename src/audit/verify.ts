/**
 * `audit verify`: recompute everything — sequence, hash chain, payload hashes, Merkle roots and
 * checkpoint signatures — from the anchor (genesis, or the checkpoint pruning left) to the end,
 * and name the first seq where the log is not what it claims to be. Large logs are checked in
 * ranges on worker threads; the Merkle tree and the checkpoints are checked here, in order.
 */
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { defaultDbFile, openSqlite, type SqliteDb } from '../store/index.js';
import { checkpointFromRow, checkpointSignatureOk } from './checkpoint.js';
import { CompactRange, GENESIS, pieceSizes } from './hash.js';
import { keyIdOf, spkiBase64 } from './keys.js';
import { anchorOf, type CheckpointRow, hasAuditTables } from './tables.js';
import { type ChunkInput, type ChunkResult, verifyChunk } from './verify-chunk.js';

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
}

export interface VerifyOptions {
  /** The key checkpoints must be signed with; without one, each checkpoint's embedded key is used. */
  publicKey?: KeyObject;
  keySource?: string;
}

interface State {
  res: VerifyResult;
  opts: VerifyOptions;
  trustedSpki: string | undefined;
  cps: CheckpointRow[];
  ci: number;
  frontier: CompactRange;
  prev: string;
  anchorClaim: string | undefined;
  anchorClaimSeen: boolean;
  maxSeq: number;
}

/** A failed result; the counts describe the events that verified before the bad one. */
const bad = (s: State, seq: number, problem: string): VerifyResult => {
  const events = Math.max(0, Math.min(seq - 1, s.maxSeq) - s.res.anchor);
  return { ...s.res, ok: false, events, firstSeq: events ? s.res.anchor + 1 : null, lastSeq: events ? s.res.anchor + events : null, firstBadSeq: seq, problem };
};

/** Read the anchor and the checkpoints; an early result when the anchor itself does not hold. */
function begin(db: SqliteDb, opts: VerifyOptions): State | VerifyResult {
  const res: VerifyResult = {
    ok: true, events: 0, firstSeq: null, lastSeq: null, anchor: 0, checkpoints: 0, lastCheckpoint: null, unsignedTail: 0, erasedPayloads: 0,
    key: opts.publicKey ? { keyId: keyIdOf(opts.publicKey), source: opts.keySource ?? 'given' } : null,
  };
  if (!hasAuditTables(db)) return res;
  const anchor = anchorOf(db);
  res.anchor = anchor;
  const s: State = {
    res, opts, trustedSpki: opts.publicKey ? spkiBase64(opts.publicKey) : undefined,
    cps: db.prepare('SELECT * FROM audit_checkpoints WHERE tree_size >= ? ORDER BY tree_size').all(anchor) as CheckpointRow[],
    ci: 0, frontier: new CompactRange(), prev: GENESIS, anchorClaim: anchor > 0 ? `seq:${anchor}` : undefined, anchorClaimSeen: anchor === 0,
    maxSeq: ((db.prepare('SELECT MAX(seq) AS m FROM audit_events').get() as { m: number | null }).m ?? anchor),
  };
  if (anchor > 0) {
    const a = s.cps[0];
    if (!a || a.tree_size !== anchor) return bad(s, anchor + 1, `the log was pruned up to seq ${anchor} but the anchor checkpoint at seq ${anchor} is missing`);
    try {
      s.frontier = CompactRange.fromHex(anchor, JSON.parse(a.frontier) as string[]);
    } catch (e) {
      return bad(s, anchor, `anchor checkpoint at seq ${anchor}: unreadable subtree roots (${(e as Error).message})`);
    }
    const cp = checkpointFromRow(a);
    if (s.trustedSpki && cp.publicKey !== s.trustedSpki) return bad(s, anchor, `anchor checkpoint at seq ${anchor} is not signed by the trusted key`);
    const sig = checkpointSignatureOk(cp, opts.publicKey);
    if (!sig.ok) return bad(s, anchor, `anchor checkpoint at seq ${anchor}: ${sig.reason}`);
    if (cp.root !== s.frontier.root().toString('hex')) return bad(s, anchor, `anchor checkpoint at seq ${anchor}: its subtree roots do not give its Merkle root`);
    s.prev = cp.lastHash;
    s.ci = 1;
    res.checkpoints = 1;
    res.lastCheckpoint = { treeSize: cp.treeSize, time: cp.time };
  }
  return s;
}

function checkpointProblem(s: State, row: CheckpointRow, lastHash: string, frontier = s.frontier): string | undefined {
  const cp = checkpointFromRow(row);
  if (s.trustedSpki && cp.publicKey !== s.trustedSpki) return `checkpoint at seq ${cp.treeSize} is signed by key ${cp.keyId}, not the trusted key ${s.res.key!.keyId}`;
  const sig = checkpointSignatureOk(cp, s.opts.publicKey);
  if (!sig.ok) return `checkpoint at seq ${cp.treeSize}: ${sig.reason}`;
  if (cp.lastHash !== lastHash) return `checkpoint at seq ${cp.treeSize}: its last hash is not the hash of event ${cp.treeSize}`;
  if (cp.root !== frontier.root().toString('hex')) return `checkpoint at seq ${cp.treeSize}: the Merkle root does not match the events`;
  if (row.frontier !== JSON.stringify(frontier.toHex())) return `checkpoint at seq ${cp.treeSize}: its stored subtree roots do not match the events`;
  return undefined;
}

/** Fold one verified range (events from+1 …) into the tree, checking the checkpoints it reaches. */
function consume(s: State, from: number, c: ChunkResult): VerifyResult | undefined {
  if (c.count > 0 && c.firstPrev !== s.prev) return bad(s, from + 1, `event ${from + 1}: its previous-hash does not match event ${from}`);
  const reached = (seq: number, lastHash: string, frontier: CompactRange): VerifyResult | undefined => {
    while (s.ci < s.cps.length && s.cps[s.ci]!.tree_size === seq) {
      const problem = checkpointProblem(s, s.cps[s.ci]!, lastHash, frontier);
      if (problem) return bad(s, seq, problem);
      s.res.checkpoints++;
      s.res.lastCheckpoint = { treeSize: seq, time: s.cps[s.ci]!.time };
      s.ci++;
    }
    return undefined;
  };
  if (c.local) {
    // an aligned range: its subtrees join the tree whole
    const join = (size: number, pieces: string[]): CompactRange => {
      const f = s.frontier.clone();
      const sizes = pieceSizes(size);
      pieces.forEach((h, i) => f.appendSubtree(Buffer.from(h, 'hex'), sizes[i]!));
      return f;
    };
    for (const at of c.atCheckpoints ?? []) {
      const r = reached(at.seq, at.hash, join(at.size, at.pieces));
      if (r) return r;
    }
    s.frontier = join(c.local.size, c.local.pieces);
  } else {
    const leaves = Buffer.from(c.leaves.buffer, c.leaves.byteOffset, c.count * 32);
    for (let i = 0; i < c.count; i++) {
      const seq = from + i + 1;
      s.frontier.append(leaves.subarray(i * 32, i * 32 + 32));
      if (s.ci < s.cps.length && s.cps[s.ci]!.tree_size === seq) {
        const r = reached(seq, leaves.toString('hex', i * 32, i * 32 + 32), s.frontier);
        if (r) return r;
      }
    }
  }
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
  s.res.unsignedTail = (s.res.lastSeq ?? anchor) - (s.res.lastCheckpoint?.treeSize ?? anchor);
  return s.res;
}

export function verifyAuditLog(db: SqliteDb, opts: VerifyOptions = {}): VerifyResult {
  const s = begin(db, opts);
  if (!('cps' in s)) return s;
  const from = s.res.anchor;
  const input: ChunkInput = { from, to: s.maxSeq, ...(s.anchorClaim ? { anchorClaim: s.anchorClaim } : {}) };
  return consume(s, from, verifyChunk(db, input)) ?? finish(s);
}

function runWorker(input: ChunkInput & { file: string }): Promise<ChunkResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: input });
    w.once('message', (m: ChunkResult | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`verify worker exited with ${code}`)));
  });
}

/**
 * The same verification, with ranges of a large log checked on worker threads (each on its own
 * read-only connection) while this thread folds finished ranges into the Merkle tree in order.
 */
export async function verifyAuditLogParallel(stateDirOrFile: { stateDir: string } | { file: string }, opts: VerifyOptions & { workers?: number; minEventsPerWorker?: number } = {}): Promise<VerifyResult> {
  const file = 'file' in stateDirOrFile ? stateDirOrFile.file : defaultDbFile(stateDirOrFile.stateDir);
  const db = openSqlite({ file, readonly: true });
  try {
    const s = begin(db, opts);
    if (!('cps' in s)) return s;
    const from = s.res.anchor;
    const total = s.maxSeq - from;
    const threads = opts.workers ?? Math.min(availableParallelism(), 4);
    if (threads <= 1 || total < 2 * (opts.minEventsPerWorker ?? 50_000)) return consume(s, from, verifyChunk(db, { from, to: s.maxSeq, ...(s.anchorClaim ? { anchorClaim: s.anchorClaim } : {}) })) ?? finish(s);
    // Ranges aligned on a power of two (two per thread, for balance) verify their own subtrees;
    // a first range up to the first boundary (after pruning) returns its leaves instead.
    let size = 1;
    while (size * threads * 2 < total) size *= 2;
    const ranges: Array<{ from: number; to: number; aligned: boolean }> = [];
    for (let lo = from; lo < s.maxSeq; ) {
      const aligned = lo % size === 0;
      const hi = Math.min(s.maxSeq, aligned ? lo + size : Math.ceil(lo / size) * size);
      ranges.push({ from: lo, to: hi, aligned });
      lo = hi;
    }
    const cpSeqs = s.cps.map((c) => c.tree_size);
    const jobs = ranges.map((r) => runWorker({ file, ...r, checkpoints: cpSeqs.filter((q) => q > r.from && q <= r.to), ...(s.anchorClaim ? { anchorClaim: s.anchorClaim } : {}) }));
    for (const j of jobs) j.catch(() => undefined);
    for (let i = 0; i < jobs.length; i++) {
      const r = consume(s, ranges[i]!.from, await jobs[i]!);
      if (r) return r;
    }
    return finish(s);
  } finally {
    db.close();
  }
}
