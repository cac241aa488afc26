/**
 * Replay protection: a nonce is remembered until its signature could no longer be accepted
 * (created + skew, or expires). Bounded: when full of live entries it refuses new ones (fail
 * closed) rather than forgetting a nonce that could still be replayed.
 */
import { ClawguardError } from '../errors/index.js';
import { reject } from './codes.js';

export class NonceCache {
  /** key → expiry (unix seconds); Map keeps insertion order, which is roughly expiry order. */
  private readonly entries = new Map<string, number>();

  constructor(
    readonly maxEntries = 200_000,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Throws replayed_nonce if seen and still live; unavailable if the cache is full of live nonces. */
  checkAndStore(keyid: string, nonce: string, untilSeconds: number): void {
    const t = this.now();
    const key = `${keyid}\u0000${nonce}`;
    const seen = this.entries.get(key);
    if (seen !== undefined && seen > t) throw reject('replayed_nonce', `nonce ${JSON.stringify(nonce.slice(0, 64))} of ${JSON.stringify(keyid)} was already used`);
    this.pruneFront(t);
    if (this.entries.size >= this.maxEntries) {
      this.sweep(t);
      if (this.entries.size >= this.maxEntries) {
        throw new ClawguardError('unavailable', `replay cache is full (${this.maxEntries} live nonces); request refused, retry shortly`, { retryAfter: 1 });
      }
    }
    this.entries.delete(key);
    this.entries.set(key, untilSeconds);
  }

  /** Drop expired entries from the front (cheap, amortised). */
  private pruneFront(t: number): void {
    let n = 0;
    for (const [k, until] of this.entries) {
      if (until > t || n++ > 64) break;
      this.entries.delete(k);
    }
  }

  /** Drop every expired entry (only when the cache looks full). */
  private sweep(t: number): void {
    for (const [k, until] of this.entries) if (until <= t) this.entries.delete(k);
  }
}
