/**
 * Replay protection: a nonce is remembered until its signature could no longer be accepted
 * (created + skew, or expires). At full speed a gateway sees several thousand signed requests a
 * second, each remembered for about a minute, so the set is compact: a keyed 64-bit fingerprint
 * of (keyid, nonce) and an expiry second per slot of an open-addressing table (12 bytes a slot,
 * no object per nonce). Bounded: when full of live entries it refuses new ones (fail closed)
 * rather than forgetting a nonce that could still be replayed.
 *
 * The fingerprint is keyed with a per-process secret, so nobody can choose nonces that collide;
 * two honest nonces collide with odds of about one in 2^64 / live entries, and the cost of that
 * is one refused request that the client signs again.
 */
import { randomBytes } from 'node:crypto';
import { ClawguardError } from '../errors/index.js';
import { reject } from './codes.js';
import { hashOnce } from './hash-once.js';

const MIN_SLOTS = 1024;
const INITIAL_SLOTS = 16_384;
/** Rebuild when more than this share of slots is used (live or expired). */
const MAX_LOAD = 0.5;

/** Four digest bytes read from a 'binary' (one byte per character) digest: cheaper than a Buffer. */
const word = (s: string, at: number) => ((s.charCodeAt(at) << 24) | (s.charCodeAt(at + 1) << 16) | (s.charCodeAt(at + 2) << 8) | s.charCodeAt(at + 3)) >>> 0;

export class NonceCache {
  private readonly secret = randomBytes(16).toString('hex');
  private hi: Uint32Array;
  private lo: Uint32Array;
  /** Expiry second of each slot; 0 = never used. */
  private until: Uint32Array;
  private mask: number;
  /** Slots holding an entry, live or expired. */
  private used = 0;
  private readonly maxSlots: number;
  /** After a rebuild that found the table full of live entries: no new rebuild before this second. */
  private fullUntil = 0;

  constructor(
    readonly maxEntries = 1_000_000,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {
    this.maxSlots = pow2AtLeast(Math.max(MIN_SLOTS, maxEntries / MAX_LOAD));
    // Starts small (192 KiB at most) and doubles as live entries need it, up to maxSlots.
    const slots = Math.min(this.maxSlots, INITIAL_SLOTS);
    this.hi = new Uint32Array(slots);
    this.lo = new Uint32Array(slots);
    this.until = new Uint32Array(slots);
    this.mask = slots - 1;
  }

  /** Live entries (counted on demand: status only). */
  get size(): number {
    const t = this.now();
    let n = 0;
    for (let i = 0; i < this.until.length; i++) if (this.until[i]! > t) n++;
    return n;
  }

  /** Throws replayed_nonce if seen and still live; unavailable if the cache is full of live nonces. */
  checkAndStore(keyid: string, nonce: string, untilSeconds: number): void {
    const t = this.now();
    const fp = hashOnce('sha256', `${this.secret}${keyid}\u0000${nonce}`, 'binary');
    const hi = word(fp, 0);
    const lo = word(fp, 4);
    const expiry = Math.max(1, Math.min(0xffffffff, Math.ceil(untilSeconds)));
    let i = lo & this.mask;
    let dead = -1;
    for (;;) {
      const u = this.until[i]!;
      if (u === 0) break;
      if (this.hi[i] === hi && this.lo[i] === lo) {
        if (u > t) throw reject('replayed_nonce', `nonce ${JSON.stringify(nonce.slice(0, 64))} of ${JSON.stringify(keyid)} was already used`);
        this.until[i] = expiry;
        return;
      }
      if (dead < 0 && u <= t) dead = i;
      i = (i + 1) & this.mask;
    }
    if (dead >= 0) {
      this.put(dead, hi, lo, expiry);
      return;
    }
    if (this.full()) {
      this.rebuild(t);
      if (this.full()) {
        throw new ClawguardError('unavailable', `replay cache is full (${this.maxEntries} live nonces); request refused, retry shortly`, { retryAfter: 1 });
      }
      i = this.slotFor(lo);
    }
    this.put(i, hi, lo, expiry);
    this.used++;
  }

  /** One more entry would pass the load factor or the bound. */
  private full(): boolean {
    return this.used + 1 > Math.min(this.until.length * MAX_LOAD, this.maxEntries);
  }

  private put(i: number, hi: number, lo: number, expiry: number): void {
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.until[i] = expiry;
  }

  /** First free slot on the probe path of `lo` (the table has free slots: load <= MAX_LOAD). */
  private slotFor(lo: number): number {
    let i = lo & this.mask;
    while (this.until[i] !== 0) i = (i + 1) & this.mask;
    return i;
  }

  /** Drop expired entries, growing the table when the live ones need it. Rate-limited while full. */
  private rebuild(t: number): void {
    if (t < this.fullUntil) return;
    let live = 0;
    for (let i = 0; i < this.until.length; i++) if (this.until[i]! > t) live++;
    let slots = this.until.length;
    while (live + 1 > slots * MAX_LOAD / 2 && slots < this.maxSlots) slots *= 2;
    const { hi, lo, until } = this;
    this.hi = new Uint32Array(slots);
    this.lo = new Uint32Array(slots);
    this.until = new Uint32Array(slots);
    this.mask = slots - 1;
    this.used = 0;
    for (let i = 0; i < until.length; i++) {
      if (until[i]! <= t) continue;
      this.put(this.slotFor(lo[i]!), hi[i]!, lo[i]!, until[i]!);
      this.used++;
    }
    // Entries expire by whole seconds: a table still full now stays full for the rest of this second.
    this.fullUntil = this.full() ? Math.floor(t) + 1 : 0;
  }
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
