import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import canonicalize from 'canonicalize';
import { canonicalCore, canonicalJson, CompactRange, EMPTY_ROOT, eventHash, type EventCore, inclusionPath, leafHash, nodeHash, subtreeHash, verifyInclusion } from '../../src/audit/index.js';
import { canonicalFromColumns, type RawEventColumns } from '../../src/audit/canonical.js';

let seed = 11;
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
const STRS = ['', 'a', 'fs.read', '/data/ü/文件', 'quote " back \\ slash', 'ctrl \u0001\u001f\n\t', 'emoji 😀', '\u2028\u2029'];
const pick = () => STRS[rnd(STRS.length)]!;

function randomCore(): EventCore {
  const c: EventCore = { v: 1, seq: 1 + rnd(1e9), time: new Date(rnd(2e12)).toISOString(), type: pick() || 'x', payloadHash: 'a'.repeat(64), prev: 'b'.repeat(64) };
  if (rnd(2)) c.agentId = pick();
  if (rnd(2)) c.runId = pick();
  if (rnd(2)) c.subject = pick();
  if (rnd(2)) c.action = pick();
  if (rnd(2)) c.resource = pick();
  if (rnd(2)) c.decision = rnd(2) ? 'allow' : 'deny';
  if (rnd(2)) c.tier = (['local', 'config', 'default'] as const)[rnd(3)];
  if (rnd(2)) c.policies = Array.from({ length: rnd(4) }, pick);
  return c;
}

test('the event core serializes to exactly its RFC 8785 form (against the canonicalize library), from objects and from stored columns', () => {
  for (let i = 0; i < 2000; i++) {
    const c = randomCore();
    const want = canonicalize(c);
    assert.equal(canonicalCore(c), want);
    const cols: RawEventColumns = [c.seq, c.time, c.type, c.agentId ?? null, c.runId ?? null, c.subject ?? null, c.action ?? null, c.resource ?? null, c.decision ?? null, c.tier ?? null, c.policies ? JSON.stringify(c.policies) : null, c.payloadHash, c.prev];
    assert.equal(canonicalFromColumns(cols), want);
  }
  // RFC 8785 needs well-formed Unicode; a lone surrogate is escaped (as JSON.stringify does), never fatal
  assert.equal(canonicalCore({ v: 1, seq: 1, time: 't', type: 'x\ud800', payloadHash: 'p', prev: 'q' }), '{"payloadHash":"p","prev":"q","seq":1,"time":"t","type":"x\\ud800","v":1}');
  assert.match(canonicalJson({ s: 'x\ud800' }), /unserializable/);
  assert.equal(canonicalJson({ b: [1, 2.5, 'x'], a: { d: null, c: true } }), '{"a":{"c":true,"d":null},"b":[1,2.5,"x"]}');
  assert.equal(canonicalJson({ big: 10n }), '{"big":"10"}', 'values JSON cannot carry are described, never fatal');
  assert.equal(canonicalJson(undefined), 'null');
});

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(`event ${i}`));

/** RFC 6962 §2.1 MTH, written straight from its definition. */
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}

test('RFC 6962 hashing: empty root, leaf and node prefixes, and the compact range agrees with the definition for every size', () => {
  assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(leafHash('').toString('hex'), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', 'RFC 6962 empty leaf');
  assert.deepEqual(leafHash('{"a":"é"}'), createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from('{"a":"é"}', 'utf8')])).digest());
  assert.equal(eventHash('{"a":"é"}'), leafHash('{"a":"é"}').toString('hex'), 'an event hash is its RFC 6962 leaf hash');
  const l = leaves(2);
  assert.deepEqual(nodeHash(l[0]!, l[1]!), createHash('sha256').update(Buffer.concat([Buffer.from([1]), l[0]!, l[1]!])).digest());
  const all = leaves(130);
  const cr = new CompactRange();
  for (let n = 0; n <= 130; n++) {
    assert.deepEqual(cr.root(), mth(all.slice(0, n)), `size ${n}`);
    assert.deepEqual(subtreeHash(0, n, (i) => all[i]!), mth(all.slice(0, n)));
    const copy = CompactRange.fromHex(n, cr.toHex());
    assert.deepEqual(copy.root(), cr.root());
    if (n < 130) cr.append(all[n]!);
  }
  assert.throws(() => CompactRange.fromHex(5, ['00'.repeat(32)]), /has 2 subtree roots/);
});

test('inclusion proofs verify for every leaf of every tree up to 40 leaves, also over a pruned prefix, and fail for anything else', () => {
  const all = leaves(40);
  for (let size = 1; size <= 40; size++) {
    const root = mth(all.slice(0, size));
    for (let m = 0; m < size; m++) {
      const path = inclusionPath(m, size, (i) => all[i]!);
      assert.ok(verifyInclusion(m, size, all[m]!, path, root), `leaf ${m} of ${size}`);
      if (m + 1 < size) assert.ok(!verifyInclusion(m + 1, size, all[m]!, path, root), 'wrong index');
      assert.ok(!verifyInclusion(m, size, all[(m + 1) % size === m ? 0 : (m + 1) % size]!, path, root) || size === 1, 'wrong leaf');
      if (path.length) assert.ok(!verifyInclusion(m, size, all[m]!, path.slice(1), root), 'short path');
    }
    // prefix of 13 leaves pruned: only its compact range is known
    if (size > 13) {
      const known = new CompactRange();
      for (let i = 0; i < 13; i++) known.append(all[i]!);
      const ranges = known.ranges();
      for (let m = 13; m < size; m++) {
        const path = inclusionPath(m, size, (i) => {
          if (i < 13) throw new Error(`pruned leaf ${i} read`);
          return all[i]!;
        }, ranges);
        assert.ok(verifyInclusion(m, size, all[m]!, path, root));
      }
    }
  }
  assert.ok(!verifyInclusion(5, 5, all[0]!, [], all[0]!), 'index out of range');
});
