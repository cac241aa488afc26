/**
 * Session-bound mode: one instance per session key, reused only for that key, destroyed after
 * idle time or max age. Requests of one session run one at a time.
 */
import type { ProfileConfig } from '../config/index.js';
import type { AgentInstance } from './instance.js';

interface SessionEntry {
  key: string;
  profile: string;
  instance: AgentInstance;
  createdAt: number;
  lastUsed: number;
  idleMs: number;
  maxAgeMs: number;
  /** Serializes runs of the same session. */
  tail: Promise<void>;
  releaseCurrent?: () => void;
  timer?: NodeJS.Timeout;
}

export class SessionTable {
  private readonly entries = new Map<string, SessionEntry>();

  constructor(private readonly onDestroy: (reason: string, key: string) => void = () => undefined) {}

  count(profile: string): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.profile === profile) n++;
    return n;
  }

  async acquire(key: string, p: ProfileConfig, create: () => Promise<AgentInstance>): Promise<SessionEntry> {
    let e = this.entries.get(key);
    const t = Date.now();
    if (e && (e.instance.destroyed || t - e.createdAt > e.maxAgeMs)) {
      this.destroy(e, e.instance.destroyed ? 'instance ended' : 'max age');
      e = undefined;
    }
    if (!e) {
      const instance = await create();
      e = { key, profile: p.name, instance, createdAt: t, lastUsed: t, idleMs: p.session.idleSeconds * 1000, maxAgeMs: p.session.maxAgeSeconds * 1000, tail: Promise.resolve() };
      this.entries.set(key, e);
    }
    const entry = e;
    const prev = entry.tail;
    let release!: () => void;
    entry.tail = new Promise<void>((r) => (release = r));
    await prev;
    if (entry.timer) clearTimeout(entry.timer);
    entry.releaseCurrent = release;
    return entry;
  }

  get(key: string): SessionEntry | undefined {
    return this.entries.get(key);
  }

  /** The run is over; keep the instance for the session until it idles out. */
  releaseLater(e: SessionEntry): void {
    e.lastUsed = Date.now();
    const release = e.releaseCurrent;
    e.releaseCurrent = undefined;
    e.timer = setTimeout(() => this.destroy(e, 'idle'), e.idleMs);
    e.timer.unref();
    release?.();
  }

  private destroy(e: SessionEntry, reason: string): void {
    if (e.timer) clearTimeout(e.timer);
    e.instance.destroy('completed');
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    e.releaseCurrent?.();
    this.onDestroy(reason, e.key);
  }

  closeAll(): void {
    for (const e of [...this.entries.values()]) this.destroy(e, 'shutdown');
  }
}
