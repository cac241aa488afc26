import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import canonicalize from 'canonicalize';
import { canonicalCore, CompactRange, eventHash, type EventCore, leafHash, loadPublicKey, openAuditDb, verifyAuditLog, verifyAuditLogParallel } from '../../src/audit/index.js';
import { canonicalFromColumns, leafInputFromColumns, type RawEventColumns } from '../../src/audit/canonical.js';
import { FlatRange } from '../../src/audit/hash.js';
import { alignedRanges } from '../../src/audit/verify-chunk.js';
import { ev, flip, openLog, rawDb, tempState } from './helpers.js';

// mulberry32: seeded, and its low bits are as random as its high ones (rnd(2) must not alternate)
let seed = 7;
function rnd(n: number): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
}
// Everything the fast path must refuse (quote, backslash, controls, DEL, non-ASCII, surrogates) next to what it takes.
const ATOMS = ['', 'a', 'fs.read', '/data/x.csv', ' ', '~', '!', '#', '[', ']', '{', '}', ':', ',', '"', '\\', '\\"', '\u0000', '\u0001', '\b', '\t', '\n', '\f', '\r', '\u001f', '\u007f', '\u0080', 'é', '文件', '\u2028', '\u2029', '😀', '\ud83d', '\ude00', '\ufffd', '\ufeff', 'x","agentId":"y'];
const str = () => Array.from({ length: rnd(4) }, () => ATOMS[rnd(ATOMS.length)]!).join('');
const hex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[rnd(16)]).join('');
const SEQS = [1, 2, 9, 10, 99, 1000, 65_536, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];

/** Lone surrogates replaced: what a string read back from SQLite can hold. */
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

/** A random event core (strings the chain can carry: no lone surrogates) and its stored columns. */
function randomEvent(mode: 'ordinary' | 'one-odd-field' | 'adversarial'): { core: EventCore; cols: RawEventColumns } {
  // one-odd-field: a single field is adversarial, so a check that skips any one field shows
  const oddField = mode === 'one-odd-field' ? rnd(13) : -1;
  let field = 0;
  const s = (ordinary?: string) => {
    const odd = mode === 'adversarial' || field++ === oddField;
    return wellFormed(odd ? str() : (ordinary ?? ['run:1', 'fs.read', '/data/1.csv', 'research'][rnd(4)]!));
  };
  const type = s();
  const time = s(new Date(rnd(2e12)).toISOString());
  const payloadHash = s(hex());
  const prev = s(hex());
  const core: EventCore = { v: 1, seq: rnd(3) ? 1 + rnd(1e9) : SEQS[rnd(SEQS.length)]!, time, type, payloadHash, prev };
  const agentId = s();
  const runId = s();
  const subject = s();
  const action = s();
  const resource = s();
  const decision = s(rnd(2) ? 'allow' : 'deny');
  const tier = s(['local', 'config', 'default'][rnd(3)]);
  const policies = Array.from({ length: rnd(4) }, () => s());
  // the odd field is always present; the others come and go
  if (rnd(2) || oddField === 4) core.agentId = agentId;
  if (rnd(2) || oddField === 5) core.runId = runId;
  if (rnd(2) || oddField === 6) core.subject = subject;
  if (rnd(2) || oddField === 7) core.action = action;
  if (rnd(2) || oddField === 8) core.resource = resource;
  if (rnd(2) || oddField === 9) core.decision = decision as EventCore['decision'];
  if (rnd(2) || oddField === 10) core.tier = tier as EventCore['tier'];
  if (rnd(2) || oddField >= 11) core.policies = policies;
  const c = core;
  const cols: RawEventColumns = [c.seq, c.time, c.type, c.agentId ?? null, c.runId ?? null, c.subject ?? null, c.action ?? null, c.resource ?? null, c.decision ?? null, c.tier ?? null, c.policies ? JSON.stringify(c.policies) : null, c.payloadHash, c.prev];
  return { core, cols };
}

test('the leaf input built from stored columns is exactly 0x00 and the RFC 8785 form (canonicalize), on ordinary and adversarial events', () => {
  for (let i = 0; i < 30_000; i++) {
    const { core, cols } = randomEvent((['ordinary', 'one-odd-field', 'adversarial'] as const)[i % 3]!);
    const want = canonicalize(core)!;
    assert.equal(leafInputFromColumns(cols), `\u0000${want}`, JSON.stringify(core));
    assert.equal(canonicalFromColumns(cols), want);
    assert.equal(canonicalCore(core), want);
  }
});

test('…and the same as the column-by-column form for values a tampered row can hold (numbers, bytes, lone surrogates)', () => {
  const odd: unknown[] = [0, -1, 1.5, 1e21, 2 ** 53, Buffer.from('ab"c'), Buffer.from([0xff, 0xfe]), 'a\ud800', '\udfff', 'x"y', 'safe'];
  for (let i = 0; i < 5000; i++) {
    const { cols } = randomEvent('ordinary');
    for (const k of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]) if (rnd(3) === 0) (cols as unknown[])[k] = odd[rnd(odd.length)];
    assert.equal(leafInputFromColumns(cols), `\u0000${canonicalFromColumns(cols)}`);
  }
});

test('a value smuggling its neighbour in quotes is escaped, never mistaken for the event it imitates', () => {
  const { cols } = randomEvent('ordinary');
  const honest = [...cols] as RawEventColumns;
  honest[6] = 'fs.read';
  honest[3] = 'run:1';
  const forged = [...honest] as RawEventColumns;
  forged[6] = 'fs.read","agentId":"run:1';
  forged[3] = null;
  assert.notEqual(leafInputFromColumns(forged), leafInputFromColumns(honest));
  assert.match(leafInputFromColumns(forged), /"action":"fs\.read\\",\\"agentId\\":\\"run:1"/);
});

test('the flat compact range gives the same subtree roots as CompactRange for every size', () => {
  const cr = new CompactRange();
  const fr = new FlatRange();
  for (let n = 0; n <= 600; n++) {
    assert.deepEqual(fr.toHex(), cr.toHex(), `size ${n}`);
    assert.equal(fr.size, cr.size);
    const leaf = leafHash(`event ${n}`);
    cr.append(leaf);
    fr.appendHex(leaf.toString('hex'));
  }
});

test('aligned ranges cover exactly (from, to], in order, each on a power-of-two boundary at least its length', () => {
  for (let i = 0; i < 3000; i++) {
    const from = rnd(3) === 0 ? 0 : rnd(5000);
    const to = from + rnd(3000);
    const max = 2 ** rnd(12);
    const rs = alignedRanges(from, to, max);
    let lo = from;
    for (const r of rs) {
      assert.equal(r.from, lo);
      assert.ok(r.to > r.from && r.to - r.from <= max);
      let p = 1;
      while (p < r.to - r.from) p *= 2;
      assert.equal(r.from % p, 0, `${r.from}..${r.to}`);
      lo = r.to;
    }
    assert.equal(lo, Math.max(from, to));
  }
});

let plain: string;
before(async () => {
  plain = tempState();
  const log = openLog(plain, { checkpointEvery: 29 });
  const odd = ['quote " and back \\ slash', 'ctrl \u0001\u001f\n\t\u007f', 'ünïcödé 文件 😀 \u2028', ''];
  for (let w = 0; w < 6; w++) {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const n = w * 50 + i;
        return log.append(n % 9 === 0 ? ev(n, { resource: odd[n % odd.length]!, subject: odd[(n + 1) % odd.length]!, policies: [odd[(n + 2) % odd.length]!, 'p'] }) : ev(n));
      }),
    );
  }
  await log.close();
});

function copyOf(dir: string): string {
  const d = tempState();
  for (const f of ['clawguard.db', 'audit-signing.key', 'audit-signing.pub']) copyFileSync(join(dir, f), join(d, f));
  return d;
}

async function all(dir: string) {
  const db = openAuditDb(dir);
  const key = loadPublicKey(dir)!;
  const one = verifyAuditLog(db, { publicKey: key });
  assert.equal(db.inTransaction, false, 'the read transaction verify opens is closed again');
  db.close();
  const workersOnly = await verifyAuditLogParallel({ stateDir: dir }, { publicKey: key, workers: 2, minEventsPerWorker: 1, mainThread: false });
  const shared = await verifyAuditLogParallel({ stateDir: dir }, { publicKey: key, workers: 1, minEventsPerWorker: 1 });
  return { one, workersOnly, shared };
}

test('events with quotes, controls and non-ASCII text (the slow path) verify, on one thread and on workers alike', async () => {
  const { one, workersOnly, shared } = await all(plain);
  assert.equal(one.ok, true, one.problem);
  assert.equal(one.events, 300);
  assert.deepEqual(workersOnly, one);
  assert.deepEqual(shared, one);
});

test('a column rewritten so that naive quoting would rebuild the original form is caught at its seq', async () => {
  const seq = 130;
  const d = copyOf(plain);
  const raw = rawDb(join(d, 'clawguard.db'));
  const r = raw.prepare('SELECT action, agent_id FROM audit_events WHERE seq = ?').get(seq) as { action: string; agent_id: string };
  // "action":"fs.read","agentId":"run:1" unescaped, with agent_id dropped: the same bytes if quotes went unescaped
  raw.prepare('UPDATE audit_events SET action = ?, agent_id = NULL WHERE seq = ?').run(`${r.action}","agentId":"${r.agent_id}`, seq);
  raw.close();
  const { one, workersOnly, shared } = await all(d);
  assert.deepEqual([one.ok, one.firstBadSeq], [false, seq], one.problem);
  assert.match(one.problem!, /contents do not match its hash/);
  assert.deepEqual(workersOnly, one);
  assert.deepEqual(shared, one);
});

test('an event whose previous-hash is NULL (its hash recomputed to match) is caught at its seq, also first in a range', async () => {
  for (const seq of [1, 257]) {
    const d = copyOf(plain);
    const file = join(d, 'clawguard.db');
    let raw = rawDb(file);
    // an attacker with the file can drop NOT NULL as well (the table rebuilt without it)
    raw.exec(`ALTER TABLE audit_events RENAME TO old_events;
      CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL, agent_id TEXT, run_id TEXT, subject TEXT, action TEXT, resource TEXT,
        decision TEXT, tier TEXT, policies TEXT, payload_hash TEXT NOT NULL, prev_hash TEXT, hash TEXT NOT NULL, payload_salt TEXT, payload TEXT);
      INSERT INTO audit_events SELECT * FROM old_events; DROP TABLE old_events;`);
    const row = raw.prepare('SELECT * FROM audit_events WHERE seq = ?').raw().get(seq) as RawEventColumns;
    row[12] = null as unknown as string;
    raw.prepare('UPDATE audit_events SET prev_hash = NULL, hash = ? WHERE seq = ?').run(eventHash(canonicalFromColumns(row)), seq);
    raw.close();
    raw = rawDb(file);
    assert.equal(raw.prepare('SELECT prev_hash FROM audit_events WHERE seq = ?').pluck().get(seq), null);
    raw.close();
    const { one, workersOnly, shared } = await all(d);
    assert.deepEqual([one.ok, one.firstBadSeq], [false, seq], one.problem);
    assert.match(one.problem!, /previous-hash does not match/);
    assert.deepEqual(workersOnly, one);
    assert.deepEqual(shared, one);
  }
});

test('every kind of damage gives the same result on one thread, on workers only and shared, wherever it falls in the ranges', async () => {
  const edits: Array<[string, number]> = [['prev_hash', 1], ['prev_hash', 2], ['prev_hash', 129], ['prev_hash', 257], ['hash', 256], ['payload', 64], ['payload_salt', 65], ['time', 200], ['policies', 9], ['subject', 18]];
  for (const [col, seq] of edits) {
    const d = copyOf(plain);
    const raw = rawDb(join(d, 'clawguard.db'));
    const v = raw.prepare(`SELECT ${col} FROM audit_events WHERE seq = ?`).pluck().get(seq) as string;
    raw.prepare(`UPDATE audit_events SET ${col} = ? WHERE seq = ?`).run(flip(v, Math.min(3, v.length - 1)), seq);
    raw.close();
    const { one, workersOnly, shared } = await all(d);
    assert.deepEqual([one.ok, one.firstBadSeq], [false, seq], `${col} of ${seq}: ${one.problem}`);
    assert.deepEqual(workersOnly, one, `${col} of ${seq}`);
    assert.deepEqual(shared, one, `${col} of ${seq}`);
    if (col === 'prev_hash') assert.match(one.problem!, /previous-hash does not match/, `${col} of ${seq}`);
  }
  // an erased payload still verifies, and is counted the same way everywhere
  const d = copyOf(plain);
  const raw = rawDb(join(d, 'clawguard.db'));
  raw.prepare('UPDATE audit_events SET payload = NULL, payload_salt = NULL WHERE seq IN (3, 150, 299)').run();
  raw.close();
  const { one, workersOnly, shared } = await all(d);
  assert.deepEqual([one.ok, one.erasedPayloads], [true, 3], one.problem);
  assert.deepEqual(workersOnly, one);
  assert.deepEqual(shared, one);
});
