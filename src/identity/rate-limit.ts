/** Per-agent token buckets: `ratePerSecond` refill, `burst` capacity; 429 with Retry-After when empty. */
import { ClawguardError } from '../errors/index.js';

interface Bucket {
  tokens: number;
  last: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {}

  /** Takes one token for `key`, or throws rate_limited with the seconds until one is available. */
  take(key: string): void {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 10_000) this.forgetFull(t);
      b = { tokens: this.burst, last: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (t - b.last) * this.ratePerSecond);
      b.last = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / this.ratePerSecond));
    throw new ClawguardError('rate_limited', `agent ${JSON.stringify(key)} exceeded ${this.ratePerSecond} requests/s (burst ${this.burst}); retry after ${retryAfter} s`, { retryAfter });
  }

  /** Buckets that have refilled completely carry no state worth keeping. */
  private forgetFull(t: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (t - b.last) * this.ratePerSecond >= this.burst) this.buckets.delete(k);
  }
}
