import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
// The same SQLite build as the gateway's (two copies in one process do not see each other's locks).
import { SqliteDatabase as Database } from '../../src/store/index.js';
import { Registry } from 'prom-client';
import { openAuditDb, readEvents, verifyAuditLog, loadPublicKey } from '../../src/audit/index.js';
import { ClawguardError } from '../../src/errors/index.js';
import { ev, openLog, tempState } from './helpers.js';

test('record() resolves only once the event is committed: another connection sees it at once, chained and hashed', async () => {
  const dir = tempState();
  const log = openLog(dir);
  const reader = new Database(join(dir, 'clawguard.db'), { readonly: true });
  for (let i = 1; i <= 5; i++) {
    const r = await log.append(ev(i));
    assert.equal(r.seq, i);
    const row = reader.prepare('SELECT seq, hash, prev_hash FROM audit_events WHERE seq = ?').get(i) as { seq: number; hash: string; prev_hash: string };
    assert.equal(row.hash, r.hash, 'durable when the promise resolves');
    if (i > 1) assert.equal(row.prev_hash, (reader.prepare('SELECT hash FROM audit_events WHERE seq = ?').get(i - 1) as { hash: string }).hash);
  }
  assert.equal(readEvents(reader)[2]!.payload!.n, 3);
  reader.close();
  await log.close();
  assert.equal(statSync(join(dir, 'audit-signing.key')).mode & 0o777, 0o600, 'the signing key is private');
});

test('group commit: concurrent records share transactions; checkpoints every N events; verify passes', async () => {
  const dir = tempState();
  const registry = new Registry();
  const log = openLog(dir, { registry, checkpointEvery: 100 });
  const receipts = [];
  for (let wave = 0; wave < 8; wave++) receipts.push(...(await Promise.all(Array.from({ length: 125 }, (_, i) => log.append(ev(wave * 125 + i))))));
  assert.deepEqual(receipts.map((r) => r.seq), Array.from({ length: 1000 }, (_, i) => i + 1), 'seq in call order');
  const m = await registry.getSingleMetricAsString('clawguard_audit_commit_batch_events');
  const commits = Number(/clawguard_audit_commit_batch_events_count (\d+)/.exec(m)![1]);
  assert.ok(commits <= 16, `1000 events in ${commits} commits`);
  assert.match(await registry.getSingleMetricAsString('clawguard_audit_events_total'), /type="tool.decision"} 1000/);
  await log.close();
  const db = openAuditDb(dir);
  const cps = db.prepare('SELECT tree_size FROM audit_checkpoints ORDER BY tree_size').pluck().all() as number[];
  assert.deepEqual(cps, [125, 250, 375, 500, 625, 750, 875, 1000], 'a checkpoint once 100 events have accumulated');
  const v = verifyAuditLog(db, { publicKey: loadPublicKey(dir)! });
  assert.equal(v.ok, true, v.problem);
  assert.equal(v.events, 1000);
  assert.equal(v.unsignedTail, 0);
  db.close();
});

test('a checkpoint is written every T seconds when events are waiting, and reopening continues the chain', async () => {
  const dir = tempState();
  const log = openLog(dir, { checkpointSeconds: 1, checkpointEvery: 1000 });
  await log.append(ev(1));
  await log.append(ev(2));
  await new Promise((r) => setTimeout(r, 1300));
  assert.deepEqual((log.status() as { lastCheckpoint: { treeSize: number } }).lastCheckpoint.treeSize, 2);
  await log.append(ev(3));
  await log.close();
  const again = openLog(dir);
  assert.equal((await again.append(ev(4))).seq, 4);
  await again.close();
  const db = openAuditDb(dir);
  const v = verifyAuditLog(db);
  assert.equal(v.ok, true, v.problem);
  assert.equal(v.lastSeq, 4);
  db.close();
});

test('when the store cannot be written (a lock held elsewhere), every waiting record is rejected with audit_unavailable and counted; the chain resumes after', async () => {
  const dir = tempState();
  const registry = new Registry();
  const log = openLog(dir, { registry, busyTimeoutMs: 100 });
  await log.append(ev(1));
  const other = new Database(join(dir, 'clawguard.db'));
  other.exec('BEGIN IMMEDIATE');
  const results = await Promise.allSettled([log.append(ev(2)), log.append(ev(3)), log.record(ev(4))]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok((r as PromiseRejectedResult).reason instanceof ClawguardError);
    assert.equal((r as PromiseRejectedResult).reason.code, 'audit_unavailable');
  }
  const s = log.status() as { ok: boolean; reason: string; writeFailures: number };
  assert.equal(s.ok, false);
  assert.match(s.reason, /locked|busy/i);
  assert.equal(s.writeFailures, 3);
  assert.match(await registry.getSingleMetricAsString('clawguard_audit_write_failures_total'), /clawguard_audit_write_failures_total 3/);
  other.exec('ROLLBACK');
  other.close();
  assert.equal((await log.append(ev(5))).seq, 2, 'nothing of the failed group was consumed');
  assert.equal((log.status() as { ok: boolean }).ok, true);
  await log.close();
  const db = openAuditDb(dir);
  assert.equal(verifyAuditLog(db).ok, true);
  db.close();
});

test('a store that cannot be opened rejects every record; status says why', async () => {
  const log = openLog(tempState(), { file: '/proc/no-such-dir/clawguard.db' });
  await assert.rejects(log.record(ev(1)), (e: ClawguardError) => e.code === 'audit_unavailable');
  const s = log.status() as { ok: boolean; reason: string };
  assert.equal(s.ok, false);
  assert.match(s.reason, /audit store unavailable/);
  await log.close();
  await assert.rejects(log.record(ev(1)), /closed/);
});

test('telemetry streams each committed event as one JSON line; payloads only with captureAllRequests', async () => {
  const dir = tempState();
  for (const includePayload of [false, true]) {
    const out = join(dir, `telemetry-${includePayload}.jsonl`);
    const log = openLog(dir, { telemetry: { output: out, includePayload } });
    const before = (log.status() as { lastSeq: number }).lastSeq;
    await Promise.all([log.append(ev(1)), log.append(ev(2, { type: 'run.start' })), log.append(ev(3))]);
    await log.close();
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.seq), [before + 1, before + 2, before + 3]);
    assert.equal(lines[1].type, 'run.start');
    assert.equal(typeof lines[0].hash, 'string');
    if (includePayload) assert.deepEqual(lines[0].payload.args, { path: '/data/1.csv' });
    else assert.equal(lines[0].payload, undefined);
    assert.equal(statSync(out).mode & 0o777, 0o600);
  }
});

test('payloads live beside the chain, whole: one too large to keep whole is refused (never stored in part); erasing payloads keeps verify green', async () => {
  const dir = tempState();
  const log = openLog(dir, { maxPayloadBytes: 1000 });
  await log.append(ev(1, { subject: 'alice' }));
  // a padded payload: its head would show only blanks, so it is refused whole and nothing is consumed
  const padded = log.append(ev(2, { subject: 'alice', payload: { argv: ['sh', '-c', `${' '.repeat(2000)}echo HIDDEN`] } }));
  const next = log.append(ev(3, { subject: 'bob' }));
  await assert.rejects(padded, (e: ClawguardError) => e.code === 'audit_unavailable' && /payload is \d+ bytes, more than the 1000/.test(e.message));
  assert.equal((await next).seq, 2, 'the event queued with it is committed; the refused one took no seq');
  assert.equal((log.status() as { ok: boolean }).ok, true, 'a refused event is not a store fault');
  // the bound is on UTF-8 bytes: 400 three-byte characters are 1200 bytes
  await assert.rejects(log.append(ev(4, { payload: { s: '文'.repeat(400) } })), /more than the 1000/);
  await log.append(ev(5, { subject: 'alice' }));
  assert.equal(await log.erasePayloads({ subject: 'alice' }), 2);
  await assert.rejects(log.erasePayloads({}), /name a subject/);
  await log.close();
  const db = openAuditDb(dir);
  const events = readEvents(db);
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4]);
  assert.equal(events[0]!.payload, null);
  assert.deepEqual(events[1]!.payload!.reasons, ['because']);
  assert.equal(events[3]!.type, 'audit.erase');
  assert.ok(!JSON.stringify(events).includes('HIDDEN') && !JSON.stringify(events).includes('truncated'), 'nothing of the refused event is stored');
  const v = verifyAuditLog(db);
  assert.equal(v.ok, true, v.problem);
  assert.equal(v.erasedPayloads, 2);
  db.close();
});

test('a read-only store file (immutable, even for root) rejects every record with audit_unavailable', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const dir = tempState();
  const log = openLog(dir);
  await log.append(ev(1));
  const files = [join(dir, 'clawguard.db'), join(dir, 'clawguard.db-wal')];
  const set = spawnSync('chattr', ['+i', ...files], { encoding: 'utf8' });
  if (set.status !== 0) {
    t.skip(`chattr +i is not available here: ${(set.stderr || set.error?.message || '').trim()}`);
    await log.close();
    return;
  }
  try {
    await assert.rejects(log.append(ev(2)), (e: ClawguardError) => e.code === 'audit_unavailable' && /readonly|read-only|I\/O|permission|not permitted/i.test(e.message));
    assert.equal((log.status() as { ok: boolean }).ok, false);
  } finally {
    spawnSync('chattr', ['-i', ...files]);
  }
  assert.equal((await log.append(ev(3))).seq, 2);
  await log.close();
});

test('lone surrogates in any field (an agent can send them) are stored as U+FFFD and the log still verifies', async () => {
  const dir = tempState();
  const log = openLog(dir);
  await log.append(ev(1));
  await log.append({ type: 'tool.decision\ud800', agentId: 'run:\udc00x', runId: 'r\ud83d', subject: 's\ude00', action: 'fs.read', resource: '/data/a\ud800b', decision: 'deny', tier: 'config', policies: ['p\udfff'], payload: { args: { path: '/data/a\ud800b' } } });
  await log.append({ ...ev(3), resource: 'ok \ud83d\ude00 pair' });
  await log.close();
  const db = openAuditDb(dir);
  const events = readEvents(db);
  assert.equal(events[1]!.resource, '/data/a\ufffdb');
  assert.equal(events[1]!.agentId, 'run:\ufffdx');
  assert.deepEqual(events[1]!.policies, ['p\ufffd']);
  assert.equal(events[2]!.resource, 'ok \ud83d\ude00 pair', 'a proper pair is kept');
  const r = verifyAuditLog(db);
  assert.equal(r.ok, true, JSON.stringify(r));
  db.close();
});
