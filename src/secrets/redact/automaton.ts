/**
 * Aho–Corasick over the first PREFIX characters of every pattern, compiled to a dense DFA over a
 * compressed alphabet: one left-to-right pass finds every place where some pattern may start, and
 * only there is the full pattern compared. Per character the hot loop does one class lookup, one
 * table lookup and a sign test: table entries are row offsets (state × classes), negative
 * (−offset − 1) when the target state ends a prefix. Short prefixes keep the table small (fast to
 * build when values rotate, cache-friendly to scan); long secret values keep candidates rare.
 */

/** A half-open range [start, end) of the text to replace, and the pattern it is labelled with. */
export interface Span {
  start: number;
  end: number;
  pattern: number;
  /** Where the pattern itself was found (inside its window). */
  hit: number;
}

/**
 * Where a match of a pattern puts its span: a pattern found at p replaces [p − offset, p − offset + length)
 * (clipped to the text). Without one, a pattern replaces exactly itself.
 */
export interface PatternWindows {
  offset: readonly number[];
  length: readonly number[];
  /**
   * Patterns from this index on are approximate (their window is where a value would sit if the
   * match is part of it): one found inside an exact match is dropped, the exact one says where the
   * value is. One found outside keeps its window, even where that window overlaps an exact match.
   */
  approximateFrom?: number;
}

export const PREFIX = 12;

export class Automaton {
  readonly size: number;
  private readonly classes: number;
  private readonly cls: Uint16Array;
  private readonly delta: Int32Array;
  /** Per state: the nearest prefix-terminal state along the dictionary links (itself included), or -1. */
  private readonly out: Int32Array;
  /** Per terminal: the next terminal along the dictionary links, or -1. */
  private readonly dictNext: Int32Array;
  private readonly depth: Int32Array;
  /** Per terminal: the patterns that begin with its prefix. */
  private readonly bucket: Map<number, number[]>;

  private readonly winOffset: Int32Array | undefined;
  private readonly winLength: Int32Array | undefined;
  private readonly approximateFrom: number;

  constructor(readonly patterns: readonly string[], windows?: PatternWindows) {
    this.size = patterns.length;
    if (windows) {
      this.winOffset = Int32Array.from(windows.offset);
      this.winLength = Int32Array.from(windows.length);
    }
    this.approximateFrom = windows?.approximateFrom ?? patterns.length;
    // Alphabet compression: every code unit used by a prefix gets a class; all others share class 0.
    this.cls = new Uint16Array(65536);
    let classes = 1;
    let total = 1;
    for (const p of patterns) {
      const k = Math.min(p.length, PREFIX);
      total += k;
      for (let i = 0; i < k; i++) {
        const c = p.charCodeAt(i);
        if (this.cls[c] === 0) this.cls[c] = classes++;
      }
    }
    this.classes = classes;
    const C = classes;
    const goto = new Int32Array(total * C).fill(-1);
    const depth = new Int32Array(total);
    const bucket = new Map<number, number[]>();
    let states = 1;
    patterns.forEach((p, idx) => {
      if (p.length === 0) return;
      const k = Math.min(p.length, PREFIX);
      let s = 0;
      for (let i = 0; i < k; i++) {
        const at = s * C + this.cls[p.charCodeAt(i)]!;
        if (goto[at] === -1) {
          goto[at] = states;
          depth[states] = i + 1;
          states++;
        }
        s = goto[at]!;
      }
      const b = bucket.get(s);
      if (b) b.push(idx);
      else bucket.set(s, [idx]);
    });
    // Breadth-first: failure links, full transitions, dictionary links between prefix terminals.
    const fail = new Int32Array(states);
    const out = new Int32Array(states).fill(-1);
    const dictNext = new Int32Array(states).fill(-1);
    const queue = new Int32Array(states);
    let head = 0;
    let tail = 0;
    for (let c = 0; c < C; c++) {
      const t = goto[c]!;
      if (t === -1) goto[c] = 0;
      else queue[tail++] = t;
    }
    while (head < tail) {
      const s = queue[head++]!;
      const f = fail[s]!;
      const inherited = out[f]!;
      if (bucket.has(s)) {
        out[s] = s;
        dictNext[s] = inherited;
      } else out[s] = inherited;
      for (let c = 0; c < C; c++) {
        const at = s * C + c;
        const t = goto[at]!;
        if (t === -1) goto[at] = goto[f * C + c]!;
        else {
          fail[t] = s === 0 ? 0 : goto[f * C + c]!;
          queue[tail++] = t;
        }
      }
    }
    const delta = new Int32Array(states * C);
    for (let at = 0; at < states * C; at++) {
      const t = goto[at]!;
      delta[at] = out[t]! >= 0 ? -(t * C) - 1 : t * C;
    }
    this.delta = delta;
    this.out = out;
    this.dictNext = dictNext;
    this.depth = depth.subarray(0, states);
    this.bucket = bucket;
  }

  /**
   * The ranges to replace: every occurrence of every pattern (its window, when it has one);
   * overlapping ranges are merged and labelled by their longest member. Null when nothing matches.
   */
  scan(text: string): Span[] | null {
    // ASCII text (the common case: JSON, logs, base64, hex) is scanned as bytes, which is faster
    // than charCodeAt; positions are the same because every character is one byte.
    const bytes = text.length >= 256 ? Buffer.from(text, 'utf8') : undefined;
    const found = bytes && bytes.length === text.length ? this.scanBytes(text, bytes) : this.scanChars(text);
    return found ? merge(this.approximateFrom < this.size ? this.preferExact(found) : found) : null;
  }

  private scanChars(text: string): Span[] | null {
    const cls = this.cls;
    const d = this.delta;
    const n = text.length;
    let found: Span[] | null = null;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const v = d[s + cls[text.charCodeAt(i)]!]!;
      if (v >= 0) {
        s = v;
        continue;
      }
      s = -v - 1;
      found = this.accept(text, s, i, found);
    }
    return found;
  }

  /**
   * Two interleaved streams over the two halves: the DFA state after a character depends only on
   * the last PREFIX characters, so the second stream starts PREFIX bytes before the middle and
   * reports only what ends at or after it. Two independent dependency chains keep the CPU busier.
   */
  private scanBytes(text: string, bytes: Uint8Array): Span[] | null {
    const cls = this.cls;
    const d = this.delta;
    const n = bytes.length;
    const mid = n >> 1;
    let found: Span[] | null = null;
    let s1 = 0;
    let s2 = 0;
    let j = Math.max(0, mid - PREFIX);
    for (; j < mid; j++) {
      const v = d[s2 + cls[bytes[j]!]!]!;
      s2 = v >= 0 ? v : -v - 1;
    }
    for (let i = 0; i < mid; i++, j++) {
      const v1 = d[s1 + cls[bytes[i]!]!]!;
      const v2 = d[s2 + cls[bytes[j]!]!]!;
      if ((v1 | v2) >= 0) {
        s1 = v1;
        s2 = v2;
        continue;
      }
      if (v1 >= 0) s1 = v1;
      else {
        s1 = -v1 - 1;
        found = this.accept(text, s1, i, found);
      }
      if (v2 >= 0) s2 = v2;
      else {
        s2 = -v2 - 1;
        found = this.accept(text, s2, j, found);
      }
    }
    for (; j < n; j++) {
      const v = d[s2 + cls[bytes[j]!]!]!;
      if (v >= 0) s2 = v;
      else {
        s2 = -v - 1;
        found = this.accept(text, s2, j, found);
      }
    }
    return found;
  }

  /** Drops approximate spans whose pattern was found inside an exact match. */
  private preferExact(found: Span[]): Span[] {
    const from = this.approximateFrom;
    const exact = merge(found.filter((s) => s.pattern < from));
    if (exact.length === 0) return found;
    const starts = exact.map((s) => s.start);
    return found.filter((s) => {
      if (s.pattern < from) return true;
      // The last exact span starting at or before the hit: does it contain the whole hit?
      let lo = 0;
      let hi = starts.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid]! <= s.hit) lo = mid + 1;
        else hi = mid;
      }
      return lo === 0 || exact[lo - 1]!.end < s.hit + this.patterns[s.pattern]!.length;
    });
  }

  /** A prefix ends at `i` in state row `s`: compare the full patterns that start with it (and with its suffixes). */
  private accept(text: string, s: number, i: number, found: Span[] | null): Span[] | null {
    for (let t = this.out[s / this.classes]!; t !== -1; t = this.dictNext[t]!) {
      const start = i + 1 - this.depth[t]!;
      for (const p of this.bucket.get(t)!) {
        const pat = this.patterns[p]!;
        if (!text.startsWith(pat, start)) continue;
        if (this.winOffset) {
          const from = start - this.winOffset[p]!;
          (found ??= []).push({ start: Math.max(0, from), end: Math.min(text.length, from + this.winLength![p]!), pattern: p, hit: start });
        } else (found ??= []).push({ start, end: start + pat.length, pattern: p, hit: start });
      }
    }
    return found;
  }
}


/** Sorted by start; overlapping ranges merged and labelled by their longest member (the lower pattern index on a tie). */
function merge(found: Span[]): Span[] {
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  let bestLen = 0;
  for (const sp of found) {
    const last = merged[merged.length - 1];
    const len = sp.end - sp.start;
    if (last && sp.start < last.end) {
      if (len > bestLen || (len === bestLen && sp.pattern < last.pattern)) {
        bestLen = len;
        last.pattern = sp.pattern;
      }
      if (sp.end > last.end) last.end = sp.end;
    } else {
      merged.push({ ...sp });
      bestLen = len;
    }
  }
  return merged;
}
