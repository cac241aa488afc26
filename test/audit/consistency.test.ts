/**
 * RFC 6962 consistency proofs: the published Certificate Transparency known answers, every pair of
 * sizes up to 70 against the RFC's SUBPROOF written out literally, every single-node mutation
 * refused, and proofs built from a real log's SQLite tables (from a checkpoint, from given subtree
 * roots, after pruning) that verify against the roots the log signs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { consistencyFromDb, consistencyPath, EMPTY_ROOT, leafHash, nodeHash, openAuditDb, verifyConsistency } from '../../src/audit/index.js';
import { mulberry32 } from '../helpers/prng.js';
import { ev, openLog, tempState } from './helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest();
/** RFC 6962 §2.1 MTH, from its definition. */
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}
/** RFC 6962 §2.1.2 SUBPROOF, literally. */
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [mth(d)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (m <= k) return [...subproof(m, d.slice(0, k), b), mth(d.slice(k))];
  return [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

// The Certificate Transparency reference inputs (transparency-dev/merkle testonly) and their published proofs.
const CT_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const CT_LEAVES = CT_INPUTS.map((b) => sha(Buffer.concat([Buffer.from([0]), b])));
const CT_ROOTS = ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', 'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125', 'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4', '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef', 'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c', '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'];
const CT_PROOFS: Array<[number, number, string[]]> = [
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

const nodeOf = (leaves: Buffer[]) => (lo: number, hi: number) => mth(leaves.slice(lo, hi));

test('the Certificate Transparency reference proofs: generated exactly, and they verify', () => {
  for (let n = 1; n <= 8; n++) assert.equal(mth(CT_LEAVES.slice(0, n)).toString('hex'), CT_ROOTS[n - 1], `root of ${n}`);
  for (const [m, n, want] of CT_PROOFS) {
    const path = consistencyPath(m, n, nodeOf(CT_LEAVES));
    assert.deepEqual(path.map((p) => p.toString('hex')), want, `${m} -> ${n}`);
    assert.equal(verifyConsistency(m, n, Buffer.from(CT_ROOTS[m - 1]!, 'hex'), Buffer.from(CT_ROOTS[n - 1]!, 'hex'), path), true);
    assert.equal(verifyConsistency(m, n, Buffer.from(CT_ROOTS[n - 1]!, 'hex'), Buffer.from(CT_ROOTS[m - 1]!, 'hex'), path), false, 'roots swapped');
  }
});

test('every pair of sizes up to 70: the proof is RFC 6962 SUBPROOF, it verifies, and any change to it, the sizes or the roots is refused', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => leafHash(`event ${i}`));
  const node = nodeOf(leaves);
  const other = leafHash('something else');
  for (let n = 0; n <= 70; n++) {
    const rootN = mth(leaves.slice(0, n));
    for (let m = 0; m <= n; m++) {
      const rootM = mth(leaves.slice(0, m));
      const path = consistencyPath(m, n, node);
      assert.deepEqual(path, m === 0 || m === n ? [] : subproof(m, leaves.slice(0, n), true), `${m} -> ${n}`);
      assert.equal(verifyConsistency(m, n, rootM, rootN, path), true, `${m} -> ${n} verifies`);
      if (m === 0) continue;
      if (m < n) {
        // a rewritten first m leaves: the old root is not a prefix of the new tree
        const forged = [...leaves.slice(0, n)];
        forged[(m * 7) % m] = other;
        assert.equal(verifyConsistency(m, n, rootM, mth(forged), consistencyPath(m, n, nodeOf(forged))), false, `${m} -> ${n}: rewritten prefix`);
        for (let i = 0; i < path.length; i++) {
          const bad = path.map((p, j) => (j === i ? other : p));
          assert.equal(verifyConsistency(m, n, rootM, rootN, bad), false, `${m} -> ${n}: node ${i} replaced`);
        }
        assert.equal(verifyConsistency(m, n, rootM, rootN, path.slice(0, -1)), false, `${m} -> ${n}: truncated path`);
        assert.equal(verifyConsistency(m, n, rootM, rootN, [...path, other]), false, `${m} -> ${n}: extra node`);
        if (m + 1 < n) assert.equal(verifyConsistency(m + 1, n, mth(leaves.slice(0, m + 1)), rootN, path), false, `${m} -> ${n}: proof for another size`);
        assert.equal(verifyConsistency(m, n - 1, rootM, mth(leaves.slice(0, n - 1)), path), m === n - 1 ? path.length === 0 : false, `${m} -> ${n}: other second size`);
      } else {
        assert.equal(verifyConsistency(m, n, rootM, other, []), false, 'same size, other root');
        assert.equal(verifyConsistency(m, n, rootM, rootN, [other]), false, 'same size with a path');
      }
    }
  }
  assert.equal(verifyConsistency(5, 3, EMPTY_ROOT, EMPTY_ROOT, []), false, 'shrinking');
  assert.equal(verifyConsistency(-1, 3, EMPTY_ROOT, EMPTY_ROOT, []), false);
  assert.equal(verifyConsistency(0, 3, EMPTY_ROOT, EMPTY_ROOT, [other]), false, 'from 0 the proof is empty');
  assert.throws(() => consistencyPath(4, 3, node));
});

test('proofs from a real log’s tables, from a stored checkpoint or from given subtree roots, verify against the roots the log signs; fixed-seed sizes', async () => {
  const dir = tempState();
  const log = openLog(dir, { checkpointEvery: 37 });
  const heads: Array<{ size: number; root: string; pieces: string[] }> = [];
  for (let i = 1; i <= 300; i++) {
    await log.append(ev(i));
    if (i % 11 === 0 || i < 5) heads.push({ size: i, root: log.signHead()!.checkpoint.root, pieces: log.signHead()!.pieces });
  }
  await log.close();
  const db = openAuditDb(dir);
  const rnd = mulberry32(6962);
  for (let k = 0; k < 120; k++) {
    const a = heads[Math.floor(rnd() * heads.length)]!;
    const b = heads[Math.floor(rnd() * heads.length)]!;
    const [m, n] = a.size <= b.size ? [a, b] : [b, a];
    for (const base of [undefined, { size: m.size, pieces: m.pieces }]) {
      const r = consistencyFromDb(db, { from: m.size, to: n.size, ...(base ? { base } : {}) });
      assert.equal(r.rootFrom, m.root, `root of ${m.size}`);
      assert.equal(r.rootTo, n.root, `root of ${n.size}`);
      assert.equal(verifyConsistency(m.size, n.size, Buffer.from(m.root, 'hex'), Buffer.from(n.root, 'hex'), r.path.map((h) => Buffer.from(h, 'hex'))), true, `${m.size} -> ${n.size} (${base ? 'given roots' : 'from a checkpoint'})`);
    }
  }
  assert.throws(() => consistencyFromDb(db, { from: 10, to: 301 }), /not all in the log/);
  db.close();
});
