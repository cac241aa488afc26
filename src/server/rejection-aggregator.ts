/**
 * Rejections of unauthenticated requests, recorded so that a flood cannot fill the disk. Per
 * source (an IPv4 address, or an IPv6 /64: one host usually holds a whole /64), event type, door and code,
 * the first rejection in a window is written at once (durable before the refusal is answered,
 * as a single rejected request always was); the rest of the window are counted, and written as
 * one event with that count when the window closes. Nothing the client controls (path, claimed
 * agent id) is part of the key. Per window at most `maxImmediate` events are written at once and
 * at most `maxKeys` sources are kept apart (the rest share one overflow entry), so the events
 * written per window are bounded whatever the flood looks like.
 */
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { markAudited } from '../audit/index.js';
import { errorShape } from '../errors/index.js';
import type { AuditEventInput, AuditSink, Door } from '../pipeline/index.js';

export interface RejectionSource {
  remoteAddress?: string;
  door: Door;
  code: string;
}

export interface RejectionAggregatorOptions {
  sink: () => AuditSink;
  log: Pick<Logger, 'warn' | 'error'>;
  windowMs?: number;
  maxImmediate?: number;
  maxKeys?: number;
  now?: () => number;
}

interface Entry {
  /** The first event of the window: the aggregate repeats its shape. */
  first: AuditEventInput;
  source: string;
  door: Door;
  code: string;
  count: number;
  from: number;
  to: number;
  paths: Set<string>;
  agentIds: Set<string>;
}

const SAMPLES = 5;

/** The part of an address one client controls: IPv4 as is, IPv6 by its /64. */
export function sourceOf(addr: string | undefined): string {
  if (!addr) return 'unknown';
  try {
    const a = ipaddr.process(addr);
    if (a.kind() === 'ipv4') return a.toString();
    const p = (a as ipaddr.IPv6).parts;
    return `${p.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
  } catch {
    return 'unknown';
  }
}

export class RejectionAggregator {
  private entries = new Map<string, Entry>();
  private immediate = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private written = 0;
  private counted = 0;
  private readonly windowMs: number;

  constructor(private readonly o: RejectionAggregatorOptions) {
    this.windowMs = o.windowMs ?? 5000;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /**
   * Record the rejection `event` of a request from `from`. Resolves once it is durable when it is
   * written at once, at once when it is only counted. Never rejects (the request is refused either way).
   */
  record(event: AuditEventInput, from: RejectionSource, logFields: Record<string, unknown> = {}): Promise<void> {
    // The request's rejection is accounted for, now or in the window's event: no second record of it.
    markAudited();
    const source = sourceOf(from.remoteAddress);
    // The event type is part of the key: an agent refusal and a generic HTTP refusal share the door.
    let key = `${event.type}\u0000${from.door}\u0000${from.code}\u0000${source}`;
    let e = this.entries.get(key);
    const t = this.now();
    if (!e && this.entries.size >= (this.o.maxKeys ?? 1000)) {
      key = `${event.type}\u0000${from.door}\u0000${from.code}\u0000*`;
      e = this.entries.get(key);
    }
    if (!e) {
      e = { first: event, source: key.endsWith('\u0000*') ? '*' : source, door: from.door, code: from.code, count: 0, from: t, to: t, paths: new Set(), agentIds: new Set() };
      this.entries.set(key, e);
      this.arm();
      if (!this.closed && this.immediate < (this.o.maxImmediate ?? 100)) {
        this.immediate++;
        return this.write(event, { event: event.type, ...logFields }, `request rejected: ${from.code}`);
      }
    }
    e.count++;
    this.counted++;
    e.to = t;
    if (e.paths.size < SAMPLES && event.resource) e.paths.add(event.resource.slice(0, 200));
    if (e.agentIds.size < SAMPLES && event.agentId) e.agentIds.add(event.agentId.slice(0, 128));
    return Promise.resolve();
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.flush(), this.windowMs);
    this.timer.unref();
  }

  private write(event: AuditEventInput, logFields: Record<string, unknown>, msg: string): Promise<void> {
    this.written++;
    this.o.log.warn(logFields, msg);
    try {
      return this.o
        .sink()
        .record(event)
        .then(
          () => undefined,
          (e: unknown) => this.o.log.error({ err: errorShape(e).message, event: event.type }, 'audit of a rejected request failed'),
        );
    } catch (e) {
      this.o.log.error({ err: errorShape(e).message, event: event.type }, 'audit of a rejected request failed');
      return Promise.resolve();
    }
  }

  /** Close the window: one event per source with rejections beyond the first. */
  flush(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries = new Map();
    this.immediate = 0;
    // The next rejection opens a new window (and arms the timer again).
    clearInterval(this.timer);
    this.timer = undefined;
    const writes: Array<Promise<void>> = [];
    for (const e of entries) {
      if (e.count === 0) continue;
      const { type, decision, subject } = e.first;
      const payload = {
        aggregated: true,
        count: e.count,
        code: e.code,
        door: e.door,
        source: e.source,
        from: new Date(e.from).toISOString(),
        to: new Date(e.to).toISOString(),
        windowMs: this.windowMs,
        paths: [...e.paths],
        ...(e.agentIds.size ? { claimedAgentIds: [...e.agentIds] } : {}),
      };
      const event: AuditEventInput = { type, subject: subject ?? 'unauthenticated', action: `rejected x${e.count}`, resource: e.source, decision: decision ?? 'deny', payload };
      writes.push(this.write(event, { event: type, aggregated: true, count: e.count, code: e.code, door: e.door, source: e.source, ...(e.agentIds.size ? { claimedAgentIds: [...e.agentIds] } : {}) }, `requests rejected: ${e.code} x${e.count} from ${e.source}`));
    }
    return Promise.all(writes).then(() => undefined);
  }

  status(): Record<string, unknown> {
    return { windowMs: this.windowMs, sources: this.entries.size, written: this.written, counted: this.counted };
  }

  /** Write what is pending and stop (before the audit log closes). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
