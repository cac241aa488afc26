/**
 * The one pass over each file. An Aho-Corasick automaton (case-folded) finds, in a single walk
 * over the text, every literal the rules care about: vendor key prefixes, private-key armour,
 * the JWT "." + "ey" seam, the words of generic secret names, and the words code rules key on.
 * Rules then look only at those positions. A regex alternation of the same literals is 2-3x
 * slower in V8, and one indexOf per literal is slower still with this many literals.
 */

export type AnchorRole =
  | { kind: 'vendor'; anchor: string }
  | { kind: 'jwt-seam' }
  | { kind: 'private-key' }
  /** A secret word followed by one terminator character (which is part of the pattern). */
  | { kind: 'generic'; word: string }
  | { kind: 'code'; word: string };

interface Automaton {
  /** Byte → symbol class (0 = not in any pattern). Upper-case letters fold to lower. */
  cls: Uint8Array;
  shift: number;
  /** Transition table indexed by (state << shift) | class; entries are next state << shift, so the hot loop needs no multiply. 16-bit: half the cache footprint of 32. */
  delta: Uint16Array;
  /** States numbered so that every state with an output is >= outStart (pre-shifted like delta). */
  outStart: number;
  /** For output state k (= (state - outStart) >> shift): patterns outFlat[outFrom[k] .. outFrom[k+1]). */
  outFrom: Int32Array;
  outFlat: Int32Array;
  patterns: string[];
}

function build(patterns: string[]): Automaton {
  const cls = new Uint8Array(256);
  let w = 1;
  for (const p of patterns) {
    for (const ch of p) {
      let c = ch.charCodeAt(0);
      if (c > 255) throw new Error(`anchor "${p}" is not one-byte`);
      if (c >= 48 && c <= 57) c = 48;
      if (!cls[c]) cls[c] = w++;
    }
  }
  for (let c = 65; c <= 90; c++) if (cls[c + 32]) cls[c] = cls[c + 32]!;
  // All digits are one symbol: "0" in a pattern stands for any digit.
  for (let c = 49; c <= 57; c++) cls[c] = cls[48]!;
  let shift = 1;
  while (1 << shift < w) shift++;
  const W = 1 << shift;

  const go: Array<Map<number, number>> = [new Map()];
  const out: number[][] = [[]];
  patterns.forEach((p, pi) => {
    let s = 0;
    for (const ch of p) {
      const c = cls[ch.charCodeAt(0)]!;
      let t = go[s]!.get(c);
      if (t === undefined) {
        t = go.length;
        go.push(new Map());
        out.push([]);
        go[s]!.set(c, t);
      }
      s = t;
    }
    out[s]!.push(pi);
  });
  const n = go.length;
  const fail = new Array<number>(n).fill(0);
  const delta = new Array<number>(n * W).fill(0);
  const queue: number[] = [];
  for (let c = 1; c < W; c++) {
    const t = go[0]!.get(c);
    if (t !== undefined) {
      delta[c] = t;
      queue.push(t);
    }
  }
  for (let qi = 0; qi < queue.length; qi++) {
    const r = queue[qi]!;
    for (let c = 1; c < W; c++) {
      const t = go[r]!.get(c);
      if (t !== undefined) {
        queue.push(t);
        fail[t] = delta[fail[r]! * W + c]!;
        out[t] = [...out[t]!, ...out[fail[t]!]!];
        delta[r * W + c] = t;
      } else delta[r * W + c] = delta[fail[r]! * W + c]!;
    }
  }
  // Renumber: states without output first, so the hot loop tests one comparison.
  const order = [...Array(n).keys()].sort((a, b) => (out[a]!.length > 0 ? 1 : 0) - (out[b]!.length > 0 ? 1 : 0) || a - b);
  const id = new Array<number>(n);
  order.forEach((s, i) => (id[s] = i));
  const outStart = order.findIndex((s) => out[s]!.length > 0);
  if (n * W > 0xffff) throw new Error(`anchor automaton too large for 16-bit states (${n} states)`);
  const table = new Uint16Array(n * W);
  for (let s = 0; s < n; s++) for (let c = 0; c < W; c++) table[(id[s]! << shift) | c] = id[delta[s * W + c]!]! << shift;
  if (id[0] !== 0) throw new Error('automaton root must stay state 0');
  const outputs = order.slice(outStart).map((s) => out[s]!);
  const outFrom = new Int32Array(outputs.length + 1);
  outputs.forEach((o, k) => (outFrom[k + 1] = outFrom[k]! + o.length));
  const outFlat = Int32Array.from(outputs.flat());
  return { cls, shift, delta: table, outStart: outStart << shift, outFrom, outFlat, patterns };
}

export interface AnchorHits {
  /** End offsets (exclusive) of each hit. */
  ends: Int32Array;
  /** Pattern index of each hit. */
  ids: Int32Array;
  count: number;
}

/** Where walk() leaves its counts: hits of stream A, hits of stream B (-1 = buffers too small). */
const counts = new Int32Array(2);

/**
 * The automaton walk, kept minimal so V8 compiles it to a tight loop: bytes rather than a
 * string and pre-shifted states in a typed array are about twice as fast as the obvious form.
 * A DFA step waits for the previous one (a load per byte), so the text is walked as two halves
 * at once: two independent chains keep the CPU busy (about 1.5x). Stream A covers
 * [0, mid + overlap) so that matches starting just before mid are complete; B covers [mid, n).
 */
function walk(bytes: Uint8Array, delta: Uint16Array, cls: Uint8Array, outStart: number, overlap: number, endsA: Int32Array, statesA: Int32Array, endsB: Int32Array, statesB: Int32Array): void {
  const n = bytes.length;
  const mid = n < 8192 ? n : n >> 1;
  const aLen = Math.min(n, mid + overlap);
  const bLen = n - mid;
  const capA = endsA.length;
  const capB = endsB.length;
  const common = Math.min(aLen, bLen);
  let sa = 0;
  let sb = 0;
  let ca = 0;
  let cb = 0;
  let i = 0;
  for (; i < common; i++) {
    sa = delta[sa | cls[bytes[i]!]!]!;
    sb = delta[sb | cls[bytes[mid + i]!]!]!;
    if (sa >= outStart) {
      if (ca === capA) return void ((counts[0] = -1), (counts[1] = -1));
      endsA[ca] = i + 1;
      statesA[ca++] = sa;
    }
    if (sb >= outStart) {
      if (cb === capB) return void ((counts[0] = -1), (counts[1] = -1));
      endsB[cb] = mid + i + 1;
      statesB[cb++] = sb;
    }
  }
  for (let j = i; j < aLen; j++) {
    sa = delta[sa | cls[bytes[j]!]!]!;
    if (sa >= outStart) {
      if (ca === capA) return void ((counts[0] = -1), (counts[1] = -1));
      endsA[ca] = j + 1;
      statesA[ca++] = sa;
    }
  }
  for (let j = i; j < bLen; j++) {
    sb = delta[sb | cls[bytes[mid + j]!]!]!;
    if (sb >= outStart) {
      if (cb === capB) return void ((counts[0] = -1), (counts[1] = -1));
      endsB[cb] = mid + j + 1;
      statesB[cb++] = sb;
    }
  }
  counts[0] = ca;
  counts[1] = cb;
}

export class AnchorScanner {
  private readonly a: Automaton;
  readonly roles: AnchorRole[];
  private ends = new Int32Array(16384);
  private ids = new Int32Array(16384);

  private readonly lengths: Int32Array;
  private readonly overlap: number;

  constructor(entries: Array<{ text: string; role: AnchorRole }>) {
    this.a = build(entries.map((e) => e.text.toLowerCase()));
    this.roles = entries.map((e) => e.role);
    this.lengths = Int32Array.from(entries.map((e) => e.text.length));
    this.overlap = Math.max(...entries.map((e) => e.text.length)) - 1;
  }

  patternLength(id: number): number {
    return this.a.patterns[id]!.length;
  }

  /** All hits in `bytes` (a file's raw bytes, or a latin1 encoding of a string), in order of end offset. The returned arrays are reused by the next call. */
  scan(bytes: Uint8Array): AnchorHits {
    const { outFrom, outFlat, shift, outStart, delta, cls } = this.a;
    for (;;) {
      walk(bytes, delta, cls, outStart, this.overlap, this.aEnds, this.aStates, this.bEnds, this.bStates);
      if (counts[0]! >= 0) break;
      for (const k of ['aEnds', 'aStates', 'bEnds', 'bStates'] as const) this[k] = new Int32Array(this[k].length * 4);
    }
    const nA = counts[0]!;
    const nB = counts[1]!;
    const mid = bytes.length < 8192 ? bytes.length : bytes.length >> 1;
    // Expand states into the patterns ending there; stream A keeps only matches starting before mid
    // (B found the rest), so the two lists are each sorted and together complete.
    let total = 0;
    for (let h = 0; h < nA; h++) total += outFrom[((this.aStates[h]! - outStart) >> shift) + 1]! - outFrom[(this.aStates[h]! - outStart) >> shift]!;
    for (let h = 0; h < nB; h++) total += outFrom[((this.bStates[h]! - outStart) >> shift) + 1]! - outFrom[(this.bStates[h]! - outStart) >> shift]!;
    if (this.ends.length < total) {
      this.ends = new Int32Array(total * 2);
      this.ids = new Int32Array(total * 2);
    }
    const lens = this.lengths;
    let count = 0;
    let h = 0;
    let g = 0;
    while (h < nA || g < nB) {
      const useA = h < nA && (g >= nB || this.aEnds[h]! <= this.bEnds[g]!);
      const end = useA ? this.aEnds[h]! : this.bEnds[g]!;
      const k = ((useA ? this.aStates[h++]! : this.bStates[g++]!) - outStart) >> shift;
      for (let o = outFrom[k]!, oEnd = outFrom[k + 1]!; o < oEnd; o++) {
        const id = outFlat[o]!;
        if (useA && end - lens[id]! >= mid) continue;
        this.ends[count] = end;
        this.ids[count] = id;
        count++;
      }
    }
    return { ends: this.ends, ids: this.ids, count };
  }

  private aEnds = new Int32Array(8192);
  private aStates = new Int32Array(8192);
  private bEnds = new Int32Array(8192);
  private bStates = new Int32Array(8192);
}
