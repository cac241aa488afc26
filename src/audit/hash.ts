/**
 * Hashing for the audit log: RFC 6962 Merkle trees (leaf = SHA-256(0x00 || canonical event),
 * node = SHA-256(0x01 || left || right)) whose leaves are the events' chain hashes, with compact
 * ranges so a pruned prefix is kept as a handful of subtree roots, and RFC 9162 inclusion proofs.
 */
import * as crypto from 'node:crypto';

const { createHash } = crypto;

type Digest = { (alg: string, data: crypto.BinaryLike, enc: 'hex' | 'binary'): string; (alg: string, data: crypto.BinaryLike, enc: 'buffer'): Buffer };
/**
 * One-shot hashing (crypto.hash, Node >= 20.12) skips the Hash object a digest otherwise costs;
 * older Node falls back to createHash. Strings are hashed as UTF-8 either way.
 */
const oneShot: Digest =
  (crypto as { hash?: Digest }).hash ?? (((alg: string, data: crypto.BinaryLike, enc: 'hex' | 'binary' | 'buffer') => {
    const h = createHash(alg).update(data);
    return enc === 'buffer' ? h.digest() : h.digest(enc);
  }) as Digest);

export const GENESIS = '0'.repeat(64);

export function sha256Hex(s: string): string {
  return oneShot('sha256', s, 'hex');
}

const nodeBuf = Buffer.alloc(65);

/** RFC 6962 leaf hash, SHA-256(0x00 || data), of UTF-8 leaf data. */
export function leafHash(data: string): Buffer {
  return oneShot('sha256', `\u0000${data}`, 'buffer');
}

/**
 * An event's hash: the RFC 6962 leaf hash of its canonical form, which includes the previous
 * event's hash. It links the chain and is the event's leaf in the Merkle tree.
 */
export function eventHash(canonical: string): string {
  return oneShot('sha256', `\u0000${canonical}`, 'hex');
}

/** The Merkle leaf of an event from its stored hash. */
export function leafOf(eventHashHex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(eventHashHex)) throw new Error('event hash is not 32 bytes of hex');
  return Buffer.from(eventHashHex, 'hex');
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  nodeBuf[0] = 1;
  nodeBuf.set(left, 1);
  nodeBuf.set(right, 33);
  // a binary string and a pooled Buffer cost less than a digest Buffer (its own ArrayBuffer)
  return Buffer.from(oneShot('sha256', nodeBuf, 'binary'), 'latin1');
}

export const EMPTY_ROOT = createHash('sha256').digest();

/** Sizes of the perfect subtrees a tree of `size` leaves decomposes into, left to right. */
export function pieceSizes(size: number): number[] {
  const out: number[] = [];
  for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2) if (Math.floor(size / bit) % 2 === 1) out.push(bit);
  return size === 0 ? [] : out;
}

/** The right edge of an append-only Merkle tree: the roots of its perfect subtrees. */
export class CompactRange {
  constructor(
    public size = 0,
    public pieces: Buffer[] = [],
  ) {}

  static fromHex(size: number, hex: string[]): CompactRange {
    if (pieceSizes(size).length !== hex.length) throw new Error(`a tree of ${size} leaves has ${pieceSizes(size).length} subtree roots, not ${hex.length}`);
    return new CompactRange(size, hex.map((h) => Buffer.from(h, 'hex')));
  }

  clone(): CompactRange {
    return new CompactRange(this.size, [...this.pieces]);
  }

  append(leaf: Buffer): void {
    this.pieces.push(leaf);
    this.size++;
    // Merge equal-sized neighbours: the number of merges is the number of trailing 1s of the old size.
    for (let s = this.size; s % 2 === 0; s /= 2) {
      const right = this.pieces.pop()!;
      const left = this.pieces.pop()!;
      this.pieces.push(nodeHash(left, right));
    }
  }

  /** Append a whole perfect subtree of `size` leaves (a power of two); the tree must end on a multiple of it. */
  appendSubtree(hash: Buffer, size: number): void {
    if (size < 1 || (size & (size - 1)) !== 0 || this.size % size !== 0) throw new Error(`cannot append a subtree of ${size} leaves to a tree of ${this.size}`);
    this.pieces.push(hash);
    this.size += size;
    for (let x = this.size / size; x % 2 === 0; x /= 2) {
      const right = this.pieces.pop()!;
      const left = this.pieces.pop()!;
      this.pieces.push(nodeHash(left, right));
    }
  }

  /** RFC 6962 Merkle tree head. */
  root(): Buffer {
    if (this.pieces.length === 0) return EMPTY_ROOT;
    let acc = this.pieces[this.pieces.length - 1]!;
    for (let i = this.pieces.length - 2; i >= 0; i--) acc = nodeHash(this.pieces[i]!, acc);
    return acc;
  }

  toHex(): string[] {
    return this.pieces.map((p) => p.toString('hex'));
  }

  /** The subtree roots keyed by "lo:hi" leaf ranges. */
  ranges(): Map<string, Buffer> {
    const m = new Map<string, Buffer>();
    let lo = 0;
    pieceSizes(this.size).forEach((s, i) => {
      m.set(`${lo}:${lo + s}`, this.pieces[i]!);
      lo += s;
    });
    return m;
  }
}

/**
 * The same right edge as CompactRange, for verification's hot loop, without a Buffer per node: the
 * subtree roots are kept as strings, leaves as the 64 hex digits the chain already computed and
 * merged nodes as 32-character binary digests (the lengths tell them apart), and each merge writes
 * its two children into one reused node buffer.
 */
export class FlatRange {
  size = 0;
  private readonly pieces: string[] = [];
  private readonly node = Buffer.alloc(65, 1);

  /** Append a leaf given as 64 hex digits (callers pass a digest they computed, so it is well formed). */
  appendHex(leafHex: string): void {
    const pieces = this.pieces;
    const node = this.node;
    let top = leafHex;
    this.size++;
    for (let s = this.size; s % 2 === 0; s /= 2) {
      const left = pieces.pop()!;
      node.write(left, 1, 32, left.length === 64 ? 'hex' : 'latin1');
      node.write(top, 33, 32, top.length === 64 ? 'hex' : 'latin1');
      top = oneShot('sha256', node, 'binary');
    }
    pieces.push(top);
  }

  toHex(): string[] {
    return this.pieces.map((p) => (p.length === 64 ? p : Buffer.from(p, 'latin1').toString('hex')));
  }
}

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export type LeafSource = (index: number) => Buffer;

/** MTH of leaves [lo, hi), using known subtree roots (a pruned prefix) where given. */
export function subtreeHash(lo: number, hi: number, leaf: LeafSource, known?: Map<string, Buffer>): Buffer {
  const k = known?.get(`${lo}:${hi}`);
  if (k) return k;
  if (hi - lo === 1) return leaf(lo);
  if (hi <= lo) return EMPTY_ROOT;
  const s = split(hi - lo);
  return nodeHash(subtreeHash(lo, lo + s, leaf, known), subtreeHash(lo + s, hi, leaf, known));
}

/** RFC 6962 audit path for leaf m in the tree of leaves [0, size). */
export function inclusionPath(m: number, size: number, leaf: LeafSource, known?: Map<string, Buffer>): Buffer[] {
  const go = (lo: number, hi: number): Buffer[] => {
    if (hi - lo <= 1) return [];
    const s = split(hi - lo);
    if (m < lo + s) return [...go(lo, lo + s), subtreeHash(lo + s, hi, leaf, known)];
    return [...go(lo + s, hi), subtreeHash(lo, lo + s, leaf, known)];
  };
  return go(0, size);
}

/** RFC 9162 §2.1.3.2: does `path` prove leaf `index` is in the tree of `size` leaves with `root`? */
export function verifyInclusion(index: number, size: number, leaf: Buffer, path: Buffer[], root: Buffer): boolean {
  if (index >= size || index < 0) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}
