/** Per-profile concurrency cap with a bounded FIFO queue. */
import { ClawguardError } from '../errors/index.js';

export class Slots {
  private activeCount = 0;
  private readonly waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** The highest concurrency ever observed; tests check it never exceeds the cap. */
  peakActive = 0;

  constructor(
    readonly max: number,
    readonly queueLimit: number,
    private readonly onChange: () => void = () => undefined,
  ) {}

  get active(): number {
    return this.activeCount;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Whether a new request would be queued beyond the limit (so the caller can answer 429 before storing it). */
  wouldOverflow(): boolean {
    return this.activeCount >= this.max && this.waiters.length >= this.queueLimit;
  }

  /** Wait for a slot; an aborted signal takes the waiter out of the queue. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw new ClawguardError('killed', 'aborted before a slot was free');
    if (this.activeCount < this.max) {
      this.take();
    } else {
      if (this.waiters.length >= this.queueLimit) {
        throw new ClawguardError('queue_full', `queue full: ${this.activeCount} running and ${this.waiters.length} queued (max-concurrent ${this.max}, queueLimit ${this.queueLimit})`, { retryAfter: 1 });
      }
      await new Promise<void>((resolve, reject) => {
        const w = {
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          reject,
        };
        const onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            this.onChange();
            reject(new ClawguardError('killed', 'aborted while queued'));
          }
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(w);
        this.onChange();
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  /** Reject everyone waiting (shutdown). */
  rejectAll(e: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
    this.onChange();
  }

  private take(): void {
    this.activeCount++;
    this.peakActive = Math.max(this.peakActive, this.activeCount);
    this.onChange();
  }

  private release(): void {
    this.activeCount--;
    const next = this.waiters.shift();
    if (next) {
      // Hand the slot straight to the next waiter: the count never dips and rises again.
      this.take();
      next.resolve();
    } else this.onChange();
  }
}
