import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { buildInclusionProof, loadPublicKey, openAuditDb, readEvents, verifyAuditLog, verifyInclusionProof } from '../../src/audit/index.js';
import { ev, openLog, tempState } from './helpers.js';

const DAY = 86_400_000;

test('retention prunes only up to a checkpoint, which stays as the anchor: verify, proofs and restarts keep working', async () => {
  const dir = tempState();
  let now = Date.now() - 100 * DAY;
  const log = openLog(dir, { checkpointEvery: 10, retentionDays: 90, now: () => now });
  for (let i = 1; i <= 25; i++) await log.append(ev(i)); // checkpoints at 10 and 20, both 100 days old
  now = Date.now() - 95 * DAY;
  for (let i = 26; i <= 32; i++) await log.append(ev(i)); // checkpoint at 30, 95 days old; 31, 32 after it
  now = Date.now();
  for (let i = 33; i <= 45; i++) await log.append(ev(i)); // checkpoint at 45, today
  const r = await log.prune(now);
  assert.deepEqual(r, { anchor: 30, pruned: 30 });
  assert.deepEqual(await log.prune(now), { anchor: 30, pruned: 0 }, 'nothing more is old enough');
  await log.close();

  const db = openAuditDb(dir);
  const events = readEvents(db);
  assert.equal(events[0]!.seq, 31, 'events 31, 32 are old but after the last old checkpoint: kept');
  assert.equal(events.at(-1)!.type, 'audit.prune');
  assert.deepEqual(events.at(-1)!.payload, { previousAnchor: 0, anchor: 30, cutoff: new Date(now - 90 * DAY).toISOString(), retentionDays: 90 });
  assert.equal(events.at(-1)!.resource, 'seq:30', 'the prune is in the chain, naming its anchor');
  const v = verifyAuditLog(db, { publicKey: loadPublicKey(dir)! });
  assert.equal(v.ok, true, v.problem);
  assert.deepEqual([v.anchor, v.firstSeq, v.lastSeq], [30, 31, 46]);
  const key = loadPublicKey(dir)!;
  for (const seq of [31, 40, 45, 46]) assert.deepEqual(verifyInclusionProof(buildInclusionProof(db, seq), key), { ok: true, keyPinned: true }, `proof of ${seq}`);
  assert.throws(() => buildInclusionProof(db, 12), /pruned/);
  db.close();

  const again = openLog(dir, { checkpointEvery: 10 });
  assert.equal((await again.append(ev(47))).seq, 47);
  await again.close();
  const db2 = openAuditDb(dir);
  assert.equal(verifyAuditLog(db2).ok, true);
  db2.close();
});

test('audit proof and verify-proof from the command line; a doctored proof fails', () => {
  const BIN = resolve('bin/clawguard.js');
  const dir = tempState();
  return (async () => {
    const log = openLog(dir, { checkpointEvery: 5 });
    for (let i = 1; i <= 12; i++) await log.append(ev(i));
    await log.close();
    const proof = spawnSync(process.execPath, [BIN, 'audit', 'proof', '7', '--state-dir', dir], { encoding: 'utf8' });
    assert.equal(proof.status, 0, proof.stderr);
    const p = JSON.parse(proof.stdout);
    assert.equal(p.treeSize, 12);
    const ok = spawnSync(process.execPath, [BIN, 'audit', 'verify-proof', '-', '--state-dir', dir], { encoding: 'utf8', input: proof.stdout });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /proof valid: event 7 is in the log of 12 events/);
    p.event.decision = p.event.decision === 'allow' ? 'deny' : 'allow';
    const bad = spawnSync(process.execPath, [BIN, 'audit', 'verify-proof', '-', '--json'], { encoding: 'utf8', input: JSON.stringify(p) });
    assert.equal(bad.status, 1);
    assert.equal(JSON.parse(bad.stdout).ok, false);
    const exp = spawnSync(process.execPath, [BIN, 'audit', 'export', '--since', '1h', '--format', 'jsonl', '--state-dir', dir], { encoding: 'utf8' });
    assert.equal(exp.status, 0, exp.stderr);
    const lines = exp.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.seq), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.deepEqual(lines[3].payload.args, { path: '/data/4.csv' });
    const none = spawnSync(process.execPath, [BIN, 'audit', 'export', '--since', '2999-01-01T00:00:00Z', '--state-dir', dir], { encoding: 'utf8' });
    assert.equal(none.stdout, '');
    const tail = spawnSync(process.execPath, [BIN, 'audit', 'tail', '-n', '3', '--state-dir', dir], { encoding: 'utf8' });
    assert.deepEqual(tail.stdout.trim().split('\n').map((l) => l.split('  ')[0]), ['#10', '#11', '#12']);
    const missing = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--state-dir', tempState()], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no audit log/);
  })();
});
