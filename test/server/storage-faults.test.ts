/**
 * Storage faults against a real gateway on its real SQLite file: a lock held by another process
 * (the sqlite3 shell with BEGIN EXCLUSIVE), a full database, a write that fails for another
 * reason. The gateway never waits on the lock, answers 503 store_unavailable (500 internal for
 * what is not unavailability), logs every 5xx with its cause, says so in /healthz and /readyz,
 * and recovers by itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { SqliteDatabase as Database } from '../../src/store/index.js';
import { startGateway, tempDir, type TestGateway, waitFor, writeAgent } from '../helpers/gateway.js';
import { holdExclusiveLock, timed } from './helpers.js';

const dir = tempDir('cg-storage-');
let g: TestGateway;
const logLines: any[] = [];
const dbFile = () => join(g.dir, 'state', 'clawguard.db');
const get = async (path: string) => {
  const r = await request(g.url + path);
  return { status: r.statusCode, json: (await r.body.json()) as any };
};

before(async () => {
  g = await startGateway({ agents: { ok: { entry: writeAgent(dir, 'ok.js', 'export default async (i) => ({ echo: i });'), warmPool: 0 } } }, { logLines });
});
after(async () => g?.close());

test('a lock held by another process: the gateway never waits on it; /healthz answers, submissions get 503 store_unavailable, /readyz says why, and all recovers', async () => {
  assert.deepEqual((await get('/readyz')).json, { status: 'ready' });
  const lock = await holdExclusiveLock(dbFile());
  try {
    // Five submissions and twenty health checks at once: before, each submission held the event
    // loop for the 5 s busy timeout, and /healthz waited behind them.
    const submissions = Array.from({ length: 5 }, () => timed(() => g.call('POST', '/v1/runs', { profile: 'ok', input: 1 })));
    const health = Array.from({ length: 20 }, () => timed(() => get('/healthz')));
    for (const h of await Promise.all(health)) {
      assert.equal(h.value.status, 200);
      assert.ok(h.ms < 2000, `/healthz answered in ${h.ms.toFixed(0)} ms while the store was locked (the lock must never be waited for)`);
    }
    for (const s of await Promise.all(submissions)) {
      assert.equal(s.value.status, 503, s.value.text);
      assert.equal(s.value.json.error.code, 'store_unavailable');
      assert.match(s.value.json.error.message, /SQLITE_BUSY/);
      assert.equal(s.value.headers['retry-after'], '1', 'a lock passes: the client is told to retry');
      assert.ok(s.ms < 2000, `a submission was answered in ${s.ms.toFixed(0)} ms`);
    }
    // Reads go on (WAL): the operator can still look.
    assert.equal((await g.call('GET', '/v1/runs')).status, 200);
    // Operator changes are refused, never half made.
    const tok = await g.call('POST', '/v1/operator-tokens', { name: 'during-lock', scopes: 'read' });
    assert.equal(tok.status, 503, tok.text);
    await waitFor(async () => (await get('/readyz')).status === 503);
    const ready = await get('/readyz');
    assert.equal(ready.json.status, 'not_ready');
    assert.match(ready.json.reasons.store, /SQLITE_BUSY/);
    assert.equal(ready.json.error.code, 'unavailable');
    const health2 = await get('/healthz');
    assert.equal(health2.status, 200, 'liveness: the process is alive');
    assert.equal(health2.json.status, 'degraded');
    assert.match(health2.json.degraded.store, /SQLITE_BUSY/);
    // every 5xx was logged with its cause
    const errs = logLines.filter((l) => l.event === 'http.error' && l.code === 'store_unavailable');
    assert.ok(errs.length >= 5, `${errs.length} log lines`);
    assert.equal(errs[0].err.code, 'SQLITE_BUSY');
    assert.equal(errs[0].route, '/v1/runs');
  } finally {
    await lock.release();
  }
  // Nobody sends traffic to a gateway that is not ready: it brings the audit log back itself, and says so in it.
  await waitFor(async () => (await get('/readyz')).status === 200);
  assert.deepEqual((await get('/healthz')).json, { status: 'ok' });
  const recovered = (await g.call('GET', '/v1/audit/events?type=audit.recovered')).json.events;
  assert.equal(recovered.length, 1);
  assert.match(recovered[0].payload.reason, /locked/);
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'ok', input: 2 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'succeeded');
  assert.equal((await g.call('GET', '/v1/operator-tokens')).json.tokens.some((t: { name: string }) => t.name === 'during-lock'), false, 'the refused token does not exist');
});

test('a full database (SQLITE_FULL) is 503 store_unavailable without Retry-After; readiness shows it', async () => {
  const db = g.gw.store.db;
  const pages = Number(db.pragma('page_count', { simple: true }));
  // A real SQLite limit on the gateway's own connection: the next pages cannot be allocated.
  db.pragma(`max_page_count = ${pages}`);
  try {
    const r = await g.call('POST', '/v1/runs', { profile: 'ok', input: 'x'.repeat(200_000) });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'store_unavailable');
    assert.match(r.json.error.message, /SQLITE_FULL/);
    assert.equal(r.headers['retry-after'], undefined);
    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.json.reasons.store, /SQLITE_FULL/);
  } finally {
    db.pragma('max_page_count = 4294967294');
  }
});

test('a store write that fails for another reason is 500 internal, with no detail in the body, and is logged with its cause', async () => {
  const inject = new Database(dbFile());
  inject.exec("CREATE TRIGGER test_runs_fail BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'injected run insert failure'); END;");
  try {
    const r = await g.call('POST', '/v1/runs', { profile: 'ok', input: 3 });
    assert.equal(r.status, 500, r.text);
    assert.deepEqual(r.json, { error: { code: 'internal', message: 'internal error (see the gateway log)' } });
    const line = logLines.find((l) => l.event === 'http.error' && l.status === 500);
    assert.ok(line, 'the 500 was logged');
    assert.equal(line.level, 50, 'at error level');
    assert.match(line.err.message, /injected run insert failure/);
    assert.equal(line.err.code, 'SQLITE_CONSTRAINT_TRIGGER');
    assert.match(line.err.stack, /at /);
  } finally {
    inject.exec('DROP TRIGGER test_runs_fail');
    inject.close();
  }
});

test('while audit records cannot be written (store fine), /healthz says degraded and /readyz not ready with the reason; both come back by themselves', async () => {
  await waitFor(async () => (await get('/readyz')).status === 200); // the full database of the test before
  const inject = new Database(dbFile());
  inject.exec("CREATE TRIGGER test_audit_fails BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END;");
  try {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'ok', input: 4 });
    assert.equal(r.json.state, 'rejected', 'every action is denied');
    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.json.reasons.audit, /injected/);
    assert.equal(ready.json.reasons.store, undefined, 'the store itself is writable');
    const h = await get('/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'degraded');
    assert.match(h.json.degraded.audit, /injected/);
  } finally {
    inject.exec('DROP TRIGGER test_audit_fails');
    inject.close();
  }
  await waitFor(async () => (await get('/readyz')).status === 200);
});

test('an immutable store file (chattr +i, even for root) is 503 store_unavailable, never a 500; the gateway recovers when it is writable again', async (t) => {
  await waitFor(async () => (await get('/readyz')).status === 200);
  const files = [dbFile(), `${dbFile()}-wal`];
  const set = spawnSync('chattr', ['+i', ...files], { encoding: 'utf8' });
  if (set.status !== 0) return t.skip(`chattr +i is not available here: ${(set.stderr || set.error?.message || '').trim()}`);
  try {
    const r = await g.call('POST', '/v1/runs', { profile: 'ok', input: 5 });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'store_unavailable');
    assert.match(r.json.error.message, /SQLITE_(READONLY|IOERR|CANTOPEN)/);
    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.json.reasons.store, /SQLITE_(READONLY|IOERR|CANTOPEN)/);
  } finally {
    spawnSync('chattr', ['-i', ...files]);
  }
  await waitFor(async () => (await get('/readyz')).status === 200);
  assert.equal((await g.call('POST', '/v1/runs?wait=1', { profile: 'ok', input: 6 })).json.state, 'succeeded');
});
