/**
 * Retention: events older than retentionDays go, but only up to a checkpoint, which stays as the
 * anchor verification starts from, and never past the smallest head a witness holds (a consistency
 * proof from a witness's head needs the events after it). The prune is recorded in the chain
 * first (verify accepts an anchor only if an audit.prune event after it names it); if the store is
 * locked when the rows are deleted, the deletion is retried in the background until it is done.
 */
import type { AuditEventInput } from '../pipeline/index.js';
import type { SqliteDb } from '../store/index.js';
import type { AuditReceipt } from './types.js';

export const isBusy = (e: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: unknown })?.code ?? ''));

export interface PruneHost {
  db(): SqliteDb | undefined;
  /** Whether the log still takes writes. */
  writable(): boolean;
  anchor(): number;
  setAnchor(anchor: number): void;
  /** The largest anchor the witnesses allow. */
  limit(): number;
  append(e: AuditEventInput): Promise<AuditReceipt>;
  log?: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

export class Pruner {
  private pending: { anchor: number; cutoff: string; timer?: NodeJS.Timeout; error?: string } | undefined;

  constructor(
    private readonly h: PruneHost,
    private readonly retentionDays: number,
  ) {}

  async prune(now: number): Promise<{ anchor: number; pruned: number }> {
    const db = this.h.db();
    if (!db || !this.h.writable()) return { anchor: this.h.anchor(), pruned: 0 };
    if (this.pending) return this.apply();
    const cutoff = new Date(now - this.retentionDays * 86_400_000).toISOString();
    const previous = this.h.anchor();
    const cp = db.prepare('SELECT tree_size FROM audit_checkpoints WHERE tree_size > ? AND tree_size <= ? AND time < ? ORDER BY tree_size DESC LIMIT 1').get(previous, Math.min(this.h.limit(), Number.MAX_SAFE_INTEGER), cutoff) as { tree_size: number } | undefined;
    if (!cp) return { anchor: previous, pruned: 0 };
    const anchor = cp.tree_size;
    await this.h.append({ type: 'audit.prune', action: 'audit.prune', resource: `seq:${anchor}`, decision: 'allow', payload: { previousAnchor: previous, anchor, cutoff, retentionDays: this.retentionDays } });
    this.pending = { anchor, cutoff };
    return this.apply();
  }

  private apply(): { anchor: number; pruned: number } {
    const p = this.pending;
    const db = this.h.db();
    if (!p || !db || !this.h.writable()) return { anchor: this.h.anchor(), pruned: 0 };
    clearTimeout(p.timer);
    let pruned = 0;
    try {
      db.transaction(() => {
        db.prepare("UPDATE audit_meta SET value = ? WHERE key = 'anchor'").run(String(p.anchor));
        pruned = db.prepare('DELETE FROM audit_events WHERE seq <= ?').run(p.anchor).changes;
        db.prepare('DELETE FROM audit_checkpoints WHERE tree_size < ?').run(p.anchor);
      })();
    } catch (e) {
      p.error = (e as Error).message;
      if (!isBusy(e)) this.h.log?.error({ err: p.error, anchor: p.anchor }, 'audit prune failed; retrying');
      p.timer = setTimeout(() => this.apply(), isBusy(e) ? 1000 : 60_000);
      p.timer.unref();
      return { anchor: this.h.anchor(), pruned: 0 };
    }
    this.pending = undefined;
    this.h.setAnchor(p.anchor);
    this.h.log?.info({ anchor: p.anchor, pruned, cutoff: p.cutoff }, 'audit events past retention pruned');
    return { anchor: p.anchor, pruned };
  }

  /** Why pruning is waiting, if it is. */
  warning(): string | undefined {
    return this.pending ? `pruning up to seq ${this.pending.anchor} is waiting: ${this.pending.error ?? 'pending'}` : undefined;
  }

  close(): void {
    clearTimeout(this.pending?.timer);
  }
}
