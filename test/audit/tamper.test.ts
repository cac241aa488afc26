import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, test } from 'node:test';
import { loadPublicKey, openAuditDb, verifyAuditLog } from '../../src/audit/index.js';
import { ev, flip, openLog, rawDb, tempState } from './helpers.js';

let pristine: string;

before(async () => {
  pristine = tempState();
  const log = openLog(pristine, { checkpointEvery: 10 });
  for (let wave = 0; wave < 7; wave++) await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(ev(wave * 5 + i + 1))));
  // checkpoints at 10, 20, 30; 5 more events after the last one written by close
  log.checkpointNow = () => undefined;
  await log.close();
});

/** A copy of the pristine log, altered by `mutate` through a raw connection, then verified. */
function verifyAltered(mutate: (db: ReturnType<typeof rawDb>) => void) {
  const dir = tempState();
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(pristine, 'clawguard.db'), join(dir, 'clawguard.db'));
  copyFileSync(join(pristine, 'audit-signing.key'), join(dir, 'audit-signing.key'));
  copyFileSync(join(pristine, 'audit-signing.pub'), join(dir, 'audit-signing.pub'));
  const raw = rawDb(join(dir, 'clawguard.db'));
  mutate(raw);
  raw.close();
  const db = openAuditDb(dir);
  const r = verifyAuditLog(db, { publicKey: loadPublicKey(dir)! });
  db.close();
  return { r, dir };
}

const editColumn = (table: string, key: string, id: number, col: string) => (db: ReturnType<typeof rawDb>) => {
  const v = db.prepare(`SELECT ${col} AS v FROM ${table} WHERE ${key} = ?`).get(id) as { v: string | number };
  const next = typeof v.v === 'number' ? v.v + 1000 : flip(v.v);
  db.prepare(`UPDATE ${table} SET ${col} = ? WHERE ${key} = ?`).run(next, id);
};

test('the untouched log verifies', () => {
  const { r } = verifyAltered(() => undefined);
  assert.equal(r.ok, true, r.problem);
  assert.deepEqual([r.events, r.checkpoints, r.lastCheckpoint?.treeSize, r.unsignedTail], [35, 3, 30, 5]);
});

test('changing one byte of any stored event field fails verify at that seq', () => {
  for (const col of ['seq', 'time', 'type', 'agent_id', 'run_id', 'subject', 'action', 'resource', 'decision', 'tier', 'policies', 'payload_hash', 'prev_hash', 'hash']) {
    for (const seq of [1, 17, 33]) {
      const { r } = verifyAltered(editColumn('audit_events', 'seq', seq, col));
      assert.equal(r.ok, false, `${col} of ${seq}`);
      assert.equal(r.firstBadSeq, seq, `${col} of ${seq}: ${r.problem}`);
    }
  }
});

test('changing one byte of a payload or its salt fails verify at that seq', () => {
  for (const col of ['payload', 'payload_salt']) {
    const { r } = verifyAltered(editColumn('audit_events', 'seq', 12, col));
    assert.deepEqual([r.ok, r.firstBadSeq], [false, 12], `${col}: ${r.problem}`);
    assert.match(r.problem!, /payload/);
  }
});

test('changing one byte of a checkpoint fails verify at its seq', () => {
  for (const col of ['time', 'root', 'last_hash', 'frontier', 'key_id', 'public_key', 'signature']) {
    const { r } = verifyAltered(editColumn('audit_checkpoints', 'tree_size', 20, col));
    assert.deepEqual([r.ok, r.firstBadSeq], [false, 20], `${col}: ${r.problem}`);
    assert.match(r.problem!, /checkpoint at seq 20/);
  }
});

test('removing events fails verify: a gap names the missing seq, a truncation names the checkpoint that covers it', () => {
  assert.equal(verifyAltered((db) => db.prepare('DELETE FROM audit_events WHERE seq = 8').run()).r.firstBadSeq, 8);
  const t = verifyAltered((db) => db.prepare('DELETE FROM audit_events WHERE seq > 26').run()).r;
  assert.deepEqual([t.ok, t.firstBadSeq], [false, 30]);
  assert.match(t.problem!, /truncated/);
  const re = verifyAltered((db) => db.prepare("UPDATE audit_meta SET value = '10' WHERE key = 'anchor'").run()).r;
  assert.equal(re.ok, false, 'claiming a prune without deleting still has to match');
});

test('a rewritten chain with recomputed hashes is caught by the signed checkpoints', async () => {
  const { canonicalCore, eventHash } = await import('../../src/audit/index.js');
  const { coreOf } = await import('../../src/audit/tables.js');
  const { r } = verifyAltered((db) => {
    // rewrite event 15's decision and re-hash everything after it, as an attacker without the key would
    let prev = (db.prepare('SELECT hash FROM audit_events WHERE seq = 14').get() as { hash: string }).hash;
    for (const row of db.prepare('SELECT * FROM audit_events WHERE seq >= 15 ORDER BY seq').all() as never[]) {
      const core = coreOf(row);
      if (core.seq === 15) core.decision = core.decision === 'allow' ? 'deny' : 'allow';
      core.prev = prev;
      const hash = eventHash(canonicalCore(core));
      db.prepare('UPDATE audit_events SET decision = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(core.decision ?? null, prev, hash, core.seq);
      prev = hash;
    }
  });
  assert.deepEqual([r.ok, r.firstBadSeq], [false, 20]);
  assert.match(r.problem!, /Merkle root|last hash/);
});

test('clawguard audit verify exits 1 naming the first bad seq (and 0 on the intact log)', () => {
  const BIN = resolve('bin/clawguard.js');
  const good = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--state-dir', pristine], { encoding: 'utf8' });
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /audit log intact: 35 events \(seq 1\.\.35\), 3 signed checkpoints/);
  const { dir } = verifyAltered(editColumn('audit_events', 'seq', 23, 'resource'));
  const bad = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--state-dir', dir, '--json'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  const out = JSON.parse(bad.stdout);
  assert.equal(out.ok, false);
  assert.equal(out.firstBadSeq, 23);
  const text = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--state-dir', dir], { encoding: 'utf8' });
  assert.match(text.stdout, /^audit log BROKEN at seq 23: event 23: its contents do not match its hash/);
});
