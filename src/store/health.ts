/**
 * Whether the store can be written, as readiness and status report it. A probe runs off the
 * request path (a timer, never waiting for a lock: see probeWritable) and callers report faults
 * they met; readers only look at the last known state, so asking is free and never blocks.
 */
import type { StoreFault } from './faults.js';
import { probeWritable, type SqliteDb } from './sqlite.js';
import { storeFault } from './faults.js';

export interface StoreHealthStatus {
  ok: boolean;
  reason?: string;
  /** When the store last stopped being writable (ISO), while it is not. */
  since?: string;
  lastProbe: string | null;
  faults: number;
}

export class StoreHealth {
  private fault: { f: StoreFault; at: number; since: number } | undefined;
  private probedAt: number | undefined;
  private faults = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: SqliteDb,
    private readonly o: { probeEveryMs?: number; /** A fault a caller met counts this long (a full disk does not show in the probe). */ faultHoldMs?: number; now?: () => number } = {},
  ) {}

  /** Probe now and then every probeEveryMs (default 1 s) until stop(). */
  start(): this {
    this.probe();
    this.timer = setInterval(() => this.probe(), this.o.probeEveryMs ?? 1000);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  probe(): void {
    const t = this.now();
    this.probedAt = t;
    try {
      probeWritable(this.db);
      // A lock is gone once the probe gets it; a full disk or an I/O error does not show in a probe.
      if (this.fault && (this.fault.f.transient || t - this.fault.at >= (this.o.faultHoldMs ?? 5000))) this.fault = undefined;
    } catch (e) {
      this.report(e);
    }
  }

  /** A caller met `e`; if it is a store fault, the store counts as unwritable for a while. Returns the fault. */
  report(e: unknown): StoreFault | undefined {
    const f = storeFault(e);
    if (!f) return undefined;
    const t = this.now();
    this.faults++;
    this.fault = { f, at: t, since: this.fault?.since ?? t };
    return f;
  }

  status(): StoreHealthStatus {
    const x = this.fault;
    return {
      ok: !x,
      ...(x ? { reason: `${x.f.sqlite}: ${x.f.transient ? 'the database is locked by another process or connection' : x.f.message}`, since: new Date(x.since).toISOString() } : {}),
      lastProbe: this.probedAt === undefined ? null : new Date(this.probedAt).toISOString(),
      faults: this.faults,
    };
  }
}
