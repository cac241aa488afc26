/**
 * Replaces every known secret value — in any of its encoded forms, and any substantial part of it
 * (forms.ts, fragmentAnchorsOf) — by `[REDACTED:name]`, in one automaton pass per string for all
 * secrets at once. It is the gateway's OutputFilter (tool results, model replies, errors, audit
 * payloads) and the log's last step. Each catch is counted as an exposure of that secret.
 */
import type { OutputFilter } from '../../pipeline/index.js';
import { Automaton, type Span } from './automaton.js';
import { formsOf, fragmentAnchorsOf } from './forms.js';

/** Values remembered per secret: the current one, those in grace, and a few revoked ones. */
const MAX_VALUES_PER_SECRET = 8;

/** Per secret: catches in one redaction call; `partial` counts those that were a part of a value, not a whole form. */
export type ExposureListener = (counts: Map<string, number>, where: string, partial: Map<string, number>) => void;

/** What redactBounded() hands back: at most `keep` units, never a part of a replacement. */
export interface BoundedText {
  text: string;
  truncated: boolean;
  /** Catches in the input (shown or not). */
  caught: number;
}

export interface BoundOptions {
  /** Most units (UTF-8 bytes or UTF-16 characters) of output. */
  keep: number;
  measure: 'utf8' | 'chars';
  /** Nothing of the input at or after this index is shown (where the input itself was cut short). */
  safeEnd?: number;
}

const safeLabel = (name: string) => name.replace(/[^A-Za-z0-9._:-]/g, '_');

interface Counts {
  all: Map<string, number>;
  partial: Map<string, number>;
}
const newCounts = (): Counts => ({ all: new Map(), partial: new Map() });

/** The longest head of `piece` within `budget` units, never splitting a character. */
function cutTo(piece: string, budget: number, measure: 'utf8' | 'chars'): string {
  if (budget <= 0) return '';
  if (measure === 'chars') {
    const c = piece.charCodeAt(budget - 1);
    return piece.slice(0, c >= 0xd800 && c <= 0xdbff ? budget - 1 : budget);
  }
  const buf = Buffer.from(piece, 'utf8');
  let n = Math.min(budget, buf.length);
  while (n > 0 && n < buf.length && (buf[n]! & 0xc0) === 0x80) n--; // back to the start of a character
  return buf.subarray(0, n).toString('utf8');
}

export class SecretRedactor implements OutputFilter {
  private readonly values = new Map<string, string[]>();
  private automaton: Automaton | undefined;
  private labels: string[] = [];
  private secretOf: string[] = [];
  private partialFrom = 0;
  private longest = 0;
  private dirty = false;
  private listener: ExposureListener | undefined;

  /** Called once per redaction call that caught something, with the count per secret. */
  onExposure(fn: ExposureListener): void {
    this.listener = fn;
  }

  /** Learns a value of `secret` (idempotent). */
  add(secret: string, value: string): void {
    if (!value) return;
    const list = this.values.get(secret) ?? [];
    if (list.includes(value)) return;
    list.push(value);
    if (list.length > MAX_VALUES_PER_SECRET) list.shift();
    this.values.set(secret, list);
    this.dirty = true;
  }

  forget(secret: string): void {
    if (this.values.delete(secret)) this.dirty = true;
  }

  stats(): { patterns: number; secretsKnown: number } {
    this.compile();
    return { patterns: this.automaton?.size ?? 0, secretsKnown: this.values.size };
  }

  /** The longest stretch of text one catch can replace: how far past a cut the input must reach for a catch at the cut to be whole. */
  maxSpan(): number {
    this.compile();
    return this.longest;
  }

  private compile(): Automaton | undefined {
    if (!this.dirty) return this.automaton;
    const patterns: string[] = [];
    const labels: string[] = [];
    const secretOf: string[] = [];
    const offset: number[] = [];
    const length: number[] = [];
    const seen = new Map<string, number>();
    const add = (text: string, secret: string, off: number, len: number) => {
      const at = seen.get(text);
      if (at !== undefined) {
        // The same text in two forms at different places (an anchor before and after an escape):
        // its window covers where either form would sit.
        if (off !== offset[at] || len !== length[at]) {
          const o = Math.max(off, offset[at]!);
          length[at] = o + Math.max(len - off, length[at]! - offset[at]!);
          offset[at] = o;
        }
        return;
      }
      seen.set(text, patterns.length);
      patterns.push(text);
      labels.push(`[REDACTED:${safeLabel(secret)}]`);
      secretOf.push(secret);
      offset.push(off);
      length.push(len);
    };
    // Whole forms first: on a tie the lower index labels a merged range, so a whole catch is counted as whole.
    for (const [secret, vals] of this.values) for (const v of vals) for (const f of formsOf(v)) add(f, secret, 0, f.length);
    const partialFrom = patterns.length;
    for (const [secret, vals] of this.values) for (const v of vals) for (const a of fragmentAnchorsOf(v)) add(a.text, secret, a.offset, a.formLength);
    this.automaton = patterns.length ? new Automaton(patterns, { offset, length, approximateFrom: partialFrom }) : undefined;
    this.labels = labels;
    this.secretOf = secretOf;
    this.partialFrom = partialFrom;
    this.longest = length.reduce((m, x) => Math.max(m, x), 0);
    this.dirty = false;
    return this.automaton;
  }

  private count(spans: readonly Span[], counts: Counts): void {
    for (const sp of spans) {
      const secret = this.secretOf[sp.pattern]!;
      counts.all.set(secret, (counts.all.get(secret) ?? 0) + 1);
      if (sp.pattern >= this.partialFrom) counts.partial.set(secret, (counts.partial.get(secret) ?? 0) + 1);
    }
  }

  private redactInto(s: string, counts: Counts): string {
    const a = this.automaton;
    if (!a || s.length === 0) return s;
    const spans = a.scan(s);
    if (!spans) return s;
    this.count(spans, counts);
    const parts: string[] = [];
    let at = 0;
    for (const sp of spans) {
      parts.push(s.slice(at, sp.start), this.labels[sp.pattern]!);
      at = sp.end;
    }
    parts.push(s.slice(at));
    return parts.join('');
  }

  private report(counts: Counts, where: string): void {
    if (counts.all.size > 0 && this.listener) this.listener(counts.all, where, counts.partial);
  }

  redactText(s: string, where = 'text'): string {
    if (!this.compile()) return s;
    const counts = newCounts();
    const out = this.redactInto(s, counts);
    this.report(counts, where);
    return out;
  }

  /**
   * Redacts the whole of `s`, then keeps at most `o.keep` units of the result: a cut never falls
   * inside a replacement (it stops before one that does not fit), so what is kept depends only on
   * the redacted text. Every catch in `s` counts, shown or not.
   */
  redactBounded(s: string, where: string, o: BoundOptions): BoundedText {
    const a = this.compile();
    const spans = (a && s.length > 0 ? a.scan(s) : null) ?? [];
    const counts = newCounts();
    this.count(spans, counts);
    this.report(counts, where);
    const caught = spans.length;
    const end = Math.min(s.length, o.safeEnd ?? s.length);
    const size = o.measure === 'utf8' ? (x: string) => Buffer.byteLength(x, 'utf8') : (x: string) => x.length;
    const parts: string[] = [];
    let budget = o.keep;
    let at = 0;
    const plain = (to: number): boolean => {
      if (to <= at) return true;
      const piece = s.slice(at, to);
      const n = size(piece);
      if (n <= budget) {
        parts.push(piece);
        budget -= n;
        return true;
      }
      parts.push(cutTo(piece, budget, o.measure));
      return false;
    };
    for (const sp of spans) {
      if (sp.start >= end) break;
      if (!plain(sp.start)) return { text: parts.join(''), truncated: true, caught };
      const label = this.labels[sp.pattern]!;
      if (label.length > budget) return { text: parts.join(''), truncated: true, caught };
      parts.push(label);
      budget -= label.length;
      at = sp.end;
    }
    if (!plain(end)) return { text: parts.join(''), truncated: true, caught };
    return { text: parts.join(''), truncated: end < s.length, caught };
  }

  /** Deep-redacts every string (and object key) of a JSON-like value; returns a new value only where something changed. */
  filter(value: unknown, where = 'output'): unknown {
    if (!this.compile()) return value;
    const counts = newCounts();
    const seen = new WeakSet<object>();
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.redactInto(v, counts);
      if (v === null || typeof v !== 'object') return v;
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
      if (Array.isArray(v)) {
        let changed = false;
        const out = v.map((x) => {
          const y = walk(x);
          if (y !== x) changed = true;
          return y;
        });
        return changed ? out : v;
      }
      if (ArrayBuffer.isView(v) || v instanceof Date) return v;
      let changed = false;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const k2 = this.redactInto(k, counts);
        const y = walk(x);
        if (y !== x || k2 !== k) changed = true;
        out[k2] = y;
      }
      return changed ? out : v;
    };
    const out = walk(value);
    this.report(counts, where);
    return out;
  }
}
