/**
 * RFC 6962 §2.1.2 consistency proofs (verified as RFC 9162 §2.1.4.2 describes): the tree of `n`
 * leaves extends the tree of `m` leaves, i.e. the first m leaves are unchanged. Witnesses accept a
 * new signed tree head only with a proof from the size they last saw.
 */
import { nodeHash } from './hash.js';

/** MTH of leaves [lo, hi) of the larger tree. */
export type NodeSource = (lo: number, hi: number) => Buffer;

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** PROOF(m, D[n]): the nodes, in RFC 6962 order. Empty when m is 0 or m equals n. */
export function consistencyPath(m: number, n: number, node: NodeSource): Buffer[] {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) throw new Error(`no consistency proof from ${m} to ${n} leaves`);
  if (m === 0 || m === n) return [];
  const out: Buffer[] = [];
  // SUBPROOF(m, D[lo:hi], b), iteratively: the nodes are collected innermost first, as the recursion returns them.
  const sub = (mm: number, lo: number, hi: number, b: boolean): void => {
    if (mm === hi - lo) {
      if (!b) out.push(node(lo, hi));
      return;
    }
    const k = split(hi - lo);
    if (mm <= k) {
      sub(mm, lo, lo + k, b);
      out.push(node(lo + k, hi));
    } else {
      sub(mm - k, lo + k, hi, false);
      out.push(node(lo, lo + k));
    }
  };
  sub(m, 0, n, true);
  return out;
}

const isPowerOfTwo = (x: number) => x > 0 && Math.log2(x) % 1 === 0;

/** Does `path` prove that the tree of `m` leaves with root `rootM` is a prefix of the tree of `n` leaves with root `rootN`? */
export function verifyConsistency(m: number, n: number, rootM: Buffer, rootN: Buffer, path: Buffer[]): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) return false;
  if (m === 0) return path.length === 0;
  if (m === n) return path.length === 0 && rootM.equals(rootN);
  if (path.length === 0) return false;
  const p = isPowerOfTwo(m) ? [rootM, ...path] : path;
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = p[0]!;
  let sr = p[0]!;
  for (let i = 1; i < p.length; i++) {
    const c = p[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else sr = nodeHash(sr, c);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(rootM) && sr.equals(rootN);
}

/** Parse a path of hex SHA-256 hashes; undefined if any is not one. */
export function pathFromHex(hex: unknown): Buffer[] | undefined {
  if (!Array.isArray(hex) || hex.length > 128) return undefined;
  const out: Buffer[] = [];
  for (const h of hex) {
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) return undefined;
    out.push(Buffer.from(h, 'hex'));
  }
  return out;
}
