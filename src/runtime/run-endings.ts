/**
 * A run's ending, made durable before anyone is told about it: first the final state in the store,
 * then its run.end in the audit log (the run row keeps that event's seq). Either write may fail
 * (a full disk, a lock held by another process, the audit store down): the ending is then kept here
 * and retried off the hot path until both are written, and the next start writes every run.end a
 * crash left out (stored endings without a seq, and runs abandoned queued or running).
 */
import type { Logger } from 'pino';
import { ClawguardError } from '../errors/index.js';
import type { AuditSink } from '../pipeline/index.js';
import { type RunRecord, type RunState, type Store, storeFault } from '../store/index.js';

export interface RunEnding {
  runId: string;
  profile: string;
  agentId: string;
  state: RunState;
  endedAt: string;
  durationMs: number;
  output?: unknown;
  outputTruncated: boolean;
  logsTruncated: boolean;
  error?: { code: string; message: string };
  reason?: string;
}

interface Pending {
  ending: RunEnding;
  stored: boolean;
  /** The run.end is in the audit log at this seq (not yet noted in the run row). */
  endSeq?: number;
  lastError: string;
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;

export class RunEndings {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_FIRST_MS;

  constructor(
    private readonly d: {
      store: Store;
      audit: AuditSink;
      log: Logger;
      /** Seq of a run.end already in the audit log: a crash between writing it and noting it in the run row leaves one. */
      recordedEnd?: (runId: string) => number | undefined;
    },
  ) {}

  /**
   * Store the ending and record its run.end. Resolves with the stored record once the ending is in
   * the store (the run.end too, unless the audit store is down: then it is retried, and written at
   * the latest on the next start). Rejects with store_unavailable when the store cannot take it; the
   * ending is kept and stored as soon as the store is back.
   */
  async settle(e: RunEnding): Promise<RunRecord> {
    const p: Pending = { ending: e, stored: false, lastError: '' };
    try {
      this.store(p);
    } catch (err) {
      this.keep(p, err);
      const why = storeFault(err)?.message ?? (err as Error).message;
      throw new ClawguardError('store_unavailable', `run ${e.runId} ended (${e.state}) but its outcome could not be stored (${why}); it is stored as soon as the store is writable again`, { retryAfter: 1 });
    }
    try {
      await this.recordEnd(p, false);
    } catch (err) {
      this.keep(p, err);
    }
    return this.d.store.runs.get(e.runId)!;
  }

  /** An ending not yet durable (GET shows it with `durable: false`; a kill reports it). */
  pendingEnding(runId: string): { ending: RunEnding; stored: boolean } | undefined {
    const p = this.pending.get(runId);
    return p ? { ending: p.ending, stored: p.stored } : undefined;
  }

  health(): { pending: number; lastError?: string } {
    const last = [...this.pending.values()].at(-1);
    return { pending: this.pending.size, ...(last ? { lastError: last.lastError } : {}) };
  }

  /**
   * At start: runs a previous gateway left queued or running end `killed` (gateway_restart), and
   * every stored ending without its run.end gets one, marked recovered. Returns how many of each.
   */
  async recover(now: string): Promise<{ abandoned: number; recorded: number }> {
    const abandoned = this.d.store.runs.markAbandoned(now);
    let recorded = 0;
    try {
      for (;;) {
        const batch = this.d.store.runs.endingsUnrecorded(500);
        if (batch.length === 0) break;
        for (const r of batch) {
          const seq = this.d.recordedEnd?.(r.runId);
          if (seq !== undefined) this.d.store.runs.markEndRecorded(r.runId, seq);
          else {
            await this.recordEnd({ ending: endingOf(r), stored: true, lastError: '' }, true);
            recorded++;
          }
        }
      }
    } catch (err) {
      // The rest stay unrecorded in the store and are found again on the next start.
      this.d.log.error({ err: (err as Error).message, recorded }, 'run endings left by a previous gateway could not all be recorded');
    }
    return { abandoned, recorded };
  }

  /** One more try for everything pending (at shutdown); what is left is recovered on the next start. */
  async flush(): Promise<number> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.retry();
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.pending.size;
  }

  private store(p: Pending): void {
    const e = p.ending;
    this.d.store.runs.update(e.runId, {
      state: e.state,
      endedAt: e.endedAt,
      durationMs: e.durationMs,
      ...(e.output !== undefined ? { output: e.output } : {}),
      outputTruncated: e.outputTruncated,
      logsTruncated: e.logsTruncated,
      ...(e.error ? { error: e.error } : {}),
      ...(e.reason ? { reason: e.reason } : {}),
    });
    p.stored = true;
  }

  /** Append the run.end (once: a retry after a failed note in the run row only notes it), then note its seq. */
  private async recordEnd(p: Pending, recovered: boolean): Promise<void> {
    const e = p.ending;
    if (p.endSeq === undefined) p.endSeq = await this.appendEnd(e, recovered);
    this.d.store.runs.markEndRecorded(e.runId, p.endSeq);
  }

  private async appendEnd(e: RunEnding, recovered: boolean): Promise<number> {
    const receipt = await this.d.audit.record({
      type: 'run.end',
      agentId: e.agentId,
      runId: e.runId,
      subject: e.profile,
      action: 'run.end',
      resource: `profile:${e.profile}`,
      payload: { state: e.state, durationMs: e.durationMs, ...(e.error ? { error: e.error.code } : {}), ...(e.reason ? { reason: e.reason } : {}), ...(e.logsTruncated ? { logsTruncated: true } : {}), ...(recovered ? { recovered: true } : {}) },
    });
    return receipt ? receipt.seq : 0;
  }

  private keep(p: Pending, err: unknown): void {
    p.lastError = (err as Error)?.message ?? String(err);
    const first = !this.pending.has(p.ending.runId);
    this.pending.set(p.ending.runId, p);
    if (first) this.d.log.error({ runId: p.ending.runId, state: p.ending.state, stored: p.stored, err: p.lastError }, 'run ending not yet durable; retrying');
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.retry();
    }, this.retryMs);
    this.timer.unref();
  }

  private async retry(): Promise<void> {
    let progress = false;
    for (const p of [...this.pending.values()]) {
      try {
        if (!p.stored) this.store(p);
        await this.recordEnd(p, false);
        this.pending.delete(p.ending.runId);
        progress = true;
        this.d.log.info({ runId: p.ending.runId, state: p.ending.state }, 'run ending stored and recorded');
      } catch (err) {
        p.lastError = (err as Error)?.message ?? String(err);
      }
    }
    this.retryMs = progress ? RETRY_FIRST_MS : Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.schedule();
  }
}

function endingOf(r: RunRecord): RunEnding {
  return {
    runId: r.runId,
    profile: r.profile,
    agentId: `run:${r.runId}`,
    state: r.state,
    endedAt: r.endedAt ?? new Date().toISOString(),
    durationMs: r.durationMs ?? 0,
    outputTruncated: r.outputTruncated,
    logsTruncated: r.logsTruncated,
    ...(r.error ? { error: r.error } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
  };
}
