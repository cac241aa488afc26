/**
 * Publishes the log's key history and signed tree heads to its witnesses, off the append path:
 * every `everyMs` (when the log grew) the committed head is signed once and offered to each witness
 * that is due, with a consistency proof from the head it holds (computed in the proof worker).
 * Only the newest head is ever pending per witness, so the queue is bounded by the number of
 * witnesses. Failures back off (up to 30 s) and are retried; a refusal (the witness holds a head
 * this log does not extend, or pinned another key) is logged as an error on every attempt and
 * shown in status until it clears.
 */
import { type Checkpoint, segmentOf } from './checkpoint.js';
import type { ProofResult } from './consistency-db.js';
import { type KeyStatement, sameStatement } from './key-history.js';
import type { AuditMetrics } from './metrics.js';
import type { Prover } from './prover.js';
import type { WitnessTarget } from './witness-targets.js';
import type { WitnessState } from './witness-state.js';

export interface HeadSource {
  size(): number;
  segment(): number;
  /** The committed head, signed now; undefined when the log cannot sign. */
  signHead(): { checkpoint: Checkpoint; pieces: string[] } | undefined;
  keyHistory(): KeyStatement[];
  /** The newest stored checkpoint of size in (from, max], for catching a witness up in steps. */
  checkpointBetween(from: number, max: number): Checkpoint | undefined;
}

export interface PublisherLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

type Health = 'pending' | 'ok' | 'failing' | 'refused';

interface Tracked {
  t: WitnessTarget;
  /** What the witness holds, once read (or, for a witness that only receives, what it was sent). */
  known: boolean;
  keys: KeyStatement[];
  latest: Checkpoint | null;
  latestPieces: string[] | undefined;
  health: Health;
  failures: number;
  nextAt: number;
  error: string | undefined;
  lastOkAt: string | undefined;
  busy: Promise<void> | undefined;
}

/** A witness further behind than this many events is caught up through stored checkpoints, one proof at a time. */
const MAX_STEP = 1 << 20;
const MAX_BACKOFF_MS = 30_000;

export interface WitnessStatus {
  name: string;
  kind: string;
  /** Whether it can say what it holds, and so detect truncation. */
  detects: boolean;
  health: Health;
  treeSize: number | null;
  segment: number | null;
  lastOkAt: string | null;
  failures: number;
  error: string | null;
}

export class WitnessPublisher {
  private readonly tracked: Tracked[];
  private timer: NodeJS.Timeout | undefined;
  private signed: { size: number; segment: number; checkpoint: Checkpoint; pieces: string[] } | undefined;
  private readonly proofs = new Map<string, Promise<ProofResult>>();

  constructor(
    private readonly src: HeadSource,
    targets: WitnessTarget[],
    private readonly o: { everyMs: number; prover: Prover; log?: PublisherLog; metrics?: AuditMetrics; now?: () => number },
  ) {
    this.tracked = targets.map((t) => ({ t, known: false, keys: [], latest: null, latestPieces: undefined, health: 'pending', failures: 0, nextAt: 0, error: undefined, lastOkAt: undefined, busy: undefined }));
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** What the start check read from a witness, so the first publication needs no second read. */
  seed(t: WitnessTarget, state: WitnessState, latestPieces?: string[]): void {
    const tr = this.tracked.find((x) => x.t === t);
    if (!tr) return;
    tr.known = true;
    tr.keys = state.keys;
    tr.latest = state.latest;
    tr.latestPieces = latestPieces;
  }

  start(): void {
    if (this.timer || this.tracked.length === 0) return;
    this.timer = setInterval(() => this.tick(), this.o.everyMs);
    this.timer.unref();
    this.tick();
  }

  /** Offer the current head to every witness that is due and behind. */
  tick(force = false): Promise<void>[] {
    const out: Promise<void>[] = [];
    const size = this.src.size();
    const seg = this.src.segment();
    for (const tr of this.tracked) {
      if (tr.busy) {
        out.push(tr.busy);
        continue;
      }
      if (!force && this.now() < tr.nextAt) continue;
      const keys = this.src.keyHistory();
      const behind = !tr.known || !sameHistory(tr.keys, keys) || !tr.latest || segmentOf(tr.latest) !== seg || tr.latest.treeSize !== size;
      if (!behind && tr.health === 'ok') continue;
      tr.busy = this.publish(tr).finally(() => (tr.busy = undefined));
      out.push(tr.busy);
    }
    return out;
  }

  /** Publish to every witness now and wait, at most `timeoutMs` (shutdown, rotate-key, tests). */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = this.now() + timeoutMs;
    for (let round = 0; round < 4 && this.now() < deadline; round++) {
      const running = this.tick(true);
      if (running.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(running), new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - this.now()))))]);
      clearTimeout(timer);
    }
  }

  private head(): { size: number; checkpoint: Checkpoint; pieces: string[] } | undefined {
    const size = this.src.size();
    const seg = this.src.segment();
    if (!this.signed || this.signed.size !== size || this.signed.segment !== seg) {
      const h = this.src.signHead();
      if (!h) return undefined;
      this.signed = { size: h.checkpoint.treeSize, segment: segmentOf(h.checkpoint), checkpoint: h.checkpoint, pieces: h.pieces };
    }
    return this.signed;
  }

  private prove(from: number, to: number, base: string[] | undefined): Promise<ProofResult> {
    const k = `${from}:${to}`;
    let p = this.proofs.get(k);
    if (!p) {
      p = this.o.prover.prove({ from, to, ...(base ? { base: { size: from, pieces: base } } : {}) });
      this.proofs.set(k, p);
      p.catch(() => this.proofs.delete(k));
      while (this.proofs.size > 8) this.proofs.delete(this.proofs.keys().next().value!);
    }
    return p;
  }

  private async publish(tr: Tracked): Promise<void> {
    const t = tr.t;
    try {
      if (!tr.known) {
        if (t.readable) {
          const st = await t.fetch();
          tr.keys = st.keys;
          tr.latest = st.latest;
          tr.latestPieces = undefined;
        }
        tr.known = true;
      }
      const keys = this.src.keyHistory();
      if (!sameHistory(tr.keys, keys)) {
        const o = await t.publishKeys(keys);
        if (!o.ok) return this.refused(tr, `${o.code}: ${o.message}`);
        tr.keys = keys;
      }
      const seg = this.src.segment();
      const held = tr.latest;
      if (held && segmentOf(held) > seg) return this.refused(tr, `the witness holds segment ${segmentOf(held)} of this log; the log is on segment ${seg}`);
      const sameSegment = !!held && segmentOf(held) === seg;
      const size = this.src.size();
      if (held && sameSegment && held.treeSize > size) return this.refused(tr, `events ${size + 1}..${held.treeSize} are missing: the witness holds a head of ${held.treeSize} events`);
      const head = this.head();
      if (!head) throw new Error('the log cannot sign a head (no signing key)');
      if (held && sameSegment && held.treeSize === head.size) {
        if (held.root !== head.checkpoint.root) return this.refused(tr, `the witness holds a different head of ${held.treeSize} events: the log was rewritten`);
        return this.ok(tr);
      }
      let target = { checkpoint: head.checkpoint, pieces: head.pieces as string[] | undefined };
      const from = t.readable && held && sameSegment ? held.treeSize : 0;
      if (from > 0 && head.size - from > MAX_STEP) {
        const step = this.src.checkpointBetween(from, from + MAX_STEP);
        if (step) target = { checkpoint: step, pieces: undefined };
      }
      let path: string[] = [];
      if (from > 0) {
        const p = await this.prove(from, target.checkpoint.treeSize, tr.latestPieces);
        if (p.rootFrom !== held!.root) return this.refused(tr, `the log is not an extension of the head of ${from} events the witness holds: the first ${from} events were rewritten`);
        if (p.rootTo !== target.checkpoint.root) throw new Error(`the proof's tree of ${target.checkpoint.treeSize} events does not have the signed root`);
        path = p.path;
        target.pieces ??= p.piecesTo;
      }
      const o = await t.publish({ checkpoint: target.checkpoint, consistency: { from, path } });
      if (!o.ok) {
        if (o.code === 'stale') {
          tr.known = false;
          throw new Error(`the witness moved on: ${o.message}`);
        }
        return this.refused(tr, `${o.code}: ${o.message}`);
      }
      tr.latest = target.checkpoint;
      tr.latestPieces = target.pieces;
      this.o.metrics?.witnessSize.set({ witness: t.name }, target.checkpoint.treeSize);
      this.ok(tr);
      if (target.checkpoint !== head.checkpoint) tr.nextAt = 0;
    } catch (e) {
      tr.failures++;
      const first = tr.health !== 'failing';
      tr.health = 'failing';
      tr.error = (e as Error).message;
      tr.nextAt = this.now() + Math.min(MAX_BACKOFF_MS, this.o.everyMs * 2 ** Math.min(tr.failures, 16));
      this.o.metrics?.witnessPublished.inc({ witness: t.name, result: 'failed' });
      if (first) this.o.log?.warn({ witness: t.name, err: tr.error }, 'audit witness unreachable; retrying');
    }
  }

  private ok(tr: Tracked): void {
    if (tr.health !== 'ok' && tr.health !== 'pending') this.o.log?.info({ witness: tr.t.name }, 'audit witness reachable again');
    tr.health = 'ok';
    tr.failures = 0;
    tr.error = undefined;
    tr.nextAt = 0;
    tr.lastOkAt = new Date(this.now()).toISOString();
    this.o.metrics?.witnessPublished.inc({ witness: tr.t.name, result: 'ok' });
  }

  private refused(tr: Tracked, reason: string): void {
    tr.health = 'refused';
    tr.failures++;
    tr.error = reason;
    tr.known = false;
    tr.nextAt = this.now() + MAX_BACKOFF_MS;
    this.o.metrics?.witnessPublished.inc({ witness: tr.t.name, result: 'refused' });
    this.o.log?.error({ witness: tr.t.name, reason }, 'AUDIT WITNESS REFUSED the log: it is not consistent with what the witness holds');
  }

  /** The smallest head of the current segment every readable witness holds (pruning may not pass it). */
  minWitnessedSize(): number {
    const seg = this.src.segment();
    let min = Number.POSITIVE_INFINITY;
    for (const tr of this.tracked) {
      if (!tr.t.readable) continue;
      min = Math.min(min, tr.latest && segmentOf(tr.latest) === seg ? tr.latest.treeSize : 0);
    }
    return min;
  }

  status(): { ok: boolean; detectsTruncation: boolean; lastWitnessedSize: number | null; unwitnessedEvents: number | null; everySeconds: number; witnesses: WitnessStatus[] } {
    const seg = this.src.segment();
    const witnesses = this.tracked.map((tr) => ({
      name: tr.t.name,
      kind: tr.t.spec.kind,
      detects: tr.t.readable,
      health: tr.health,
      treeSize: tr.latest && segmentOf(tr.latest) === seg ? tr.latest.treeSize : null,
      segment: tr.latest ? segmentOf(tr.latest) : null,
      lastOkAt: tr.lastOkAt ?? null,
      failures: tr.failures,
      error: tr.error ?? null,
    }));
    const readable = witnesses.filter((w) => w.detects);
    const sizes = readable.map((w) => w.treeSize).filter((s): s is number => s !== null);
    const last = sizes.length ? Math.max(...sizes) : null;
    return {
      ok: witnesses.every((w) => w.health === 'ok' || w.health === 'pending'),
      detectsTruncation: readable.length > 0,
      lastWitnessedSize: last,
      unwitnessedEvents: last === null ? null : Math.max(0, this.src.size() - last),
      everySeconds: this.o.everyMs / 1000,
      witnesses,
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled(this.tracked.map((tr) => tr.busy));
    await Promise.allSettled(this.tracked.map((tr) => tr.t.close()));
  }
}

function sameHistory(a: KeyStatement[], b: KeyStatement[]): boolean {
  return a.length === b.length && a.every((s, i) => sameStatement(s, b[i]!));
}
