/**
 * A lock held by another process never blocks the event loop: the writer does not wait for locks,
 * keeps the events queued and retries with backoff, refuses (audit_unavailable) those that waited
 * past the bound, says why in status, and recovers by itself once the lock is gone; the same for
 * checkpoints and pruning. The lock holders are real: the sqlite3 shell with BEGIN EXCLUSIVE, and
 * a child process holding BEGIN EXCLUSIVE through better-sqlite3.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { request } from 'undici';
import { openAuditDb, verifyAuditLog } from '../../src/audit/index.js';
import { ClawguardError } from '../../src/errors/index.js';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/server/index.js';
import { SqliteDatabase } from '../../src/store/index.js';
import { waitFor } from '../helpers/gateway.js';
import { ev, openLog, tempState } from './helpers.js';

/** Whether another connection holds the write lock right now. */
function locked(file: string): boolean {
  const probe = new SqliteDatabase(file, { timeout: 0 });
  try {
    probe.exec('BEGIN IMMEDIATE');
    probe.exec('ROLLBACK');
    return false;
  } catch {
    return true;
  } finally {
    probe.close();
  }
}

/** `sqlite3 FILE` with BEGIN EXCLUSIVE, kept open until released. */
async function sqliteShellLock(file: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn('sqlite3', [file], { stdio: ['pipe', 'ignore', 'inherit'] });
  child.stdin!.write(".timeout 5000\nBEGIN EXCLUSIVE; INSERT INTO audit_meta (key, value) VALUES ('lock-test', 'x');\n");
  await waitFor(() => locked(file), 5000);
  return {
    release: async () => {
      child.stdin!.end('ROLLBACK;\n.quit\n');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** A child node process holding BEGIN EXCLUSIVE on its own better-sqlite3 connection. */
async function childLock(file: string): Promise<{ child: ChildProcess; release: () => Promise<void> }> {
  const store = fileURLToPath(new URL('../../src/store/index.js', import.meta.url));
  const code = `const { SqliteDatabase } = await import(${JSON.stringify(store)}); const db = new SqliteDatabase(${JSON.stringify(file)}); db.exec('BEGIN EXCLUSIVE'); db.prepare("INSERT INTO audit_meta (key, value) VALUES ('lock-test', 'y')").run(); process.stdout.write('locked\\n'); process.stdin.on('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((r) => child.stdout!.once('data', () => r()));
  assert.equal(locked(file), true);
  return {
    child,
    release: async () => {
      child.stdin!.write('go\n');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** How late a zero-delay timer fires while `work` runs: a blocked event loop shows here. */
async function loopDelay(during: () => void): Promise<number> {
  const t0 = performance.now();
  const fired = new Promise<number>((r) => setTimeout(() => r(performance.now() - t0), 0));
  during();
  return fired;
}

test('locked by the sqlite3 shell: appends wait, queued, without blocking the event loop, and commit once the lock is gone; status says why meanwhile', async () => {
  const dir = tempState();
  const log = openLog(dir, { lockWaitMs: 5000 });
  await log.append(ev(1));
  const file = join(dir, 'clawguard.db');
  const lock = await sqliteShellLock(file);
  let pending!: Promise<unknown>[];
  const delay = await loopDelay(() => (pending = [log.append(ev(2)), log.append(ev(3))]));
  await new Promise((r) => setTimeout(r, 50));
  const late = await loopDelay(() => undefined);
  assert.ok(delay < 500 && late < 500, `the event loop kept turning (${delay.toFixed(1)} ms, ${late.toFixed(1)} ms)`);
  const s = log.status() as { ok: boolean; reason: string; pending: number; locked: { since: string } | null };
  assert.equal(s.ok, false);
  assert.match(s.reason, /locked by another connection/);
  assert.equal(s.pending, 2);
  assert.ok(s.locked);
  assert.equal(log.checkpointNow(), undefined, 'a checkpoint waits too');
  await lock.release();
  const [a, b] = (await Promise.all(pending)) as Array<{ seq: number }>;
  assert.deepEqual([a!.seq, b!.seq], [2, 3], 'nothing lost, order kept');
  await waitFor(() => (log.status() as { lastCheckpoint: { treeSize: number } | null }).lastCheckpoint?.treeSize === 3, 3000);
  assert.equal((log.status() as { ok: boolean }).ok, true, 'recovered by itself');
  await log.close();
  const db = openAuditDb(dir);
  assert.equal(verifyAuditLog(db).ok, true);
  db.close();
});

test('locked past the bound by a child process (better-sqlite3, BEGIN EXCLUSIVE): the waiting events are refused with audit_unavailable, later ones succeed once it lets go', async () => {
  const dir = tempState();
  const log = openLog(dir, { lockWaitMs: 300 });
  await log.append(ev(1));
  const lock = await childLock(join(dir, 'clawguard.db'));
  const t0 = performance.now();
  await assert.rejects(log.append(ev(2)), (e: ClawguardError) => e.code === 'audit_unavailable' && /locked by another connection.*refused after waiting 300 ms/.test(e.message));
  assert.ok(performance.now() - t0 >= 290, 'it waited for the lock first');
  const s = log.status() as { ok: boolean; reason: string; writeFailures: number };
  assert.equal(s.ok, false);
  assert.equal(s.writeFailures, 1);
  await lock.release();
  assert.equal((await log.append(ev(3))).seq, 2, 'the refused event took no seq');
  assert.equal((log.status() as { ok: boolean }).ok, true);
  await log.close();
});

test('pruning under a lock taken right after its audit.prune event commits: the deletion is retried until it is done', async () => {
  const dir = tempState();
  const DAY = 86_400_000;
  let now = Date.now() - 100 * DAY;
  let other: InstanceType<typeof SqliteDatabase> | undefined;
  const logger = {
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    isLevelEnabled: () => true,
    // called as each committed event is logged: the prune's own event takes the lock away from the deletion
    debug: (o: { audit?: { type?: string } }) => {
      if (o.audit?.type === 'audit.prune' && !other) {
        other = new SqliteDatabase(join(dir, 'clawguard.db'), { timeout: 0 });
        other.exec("BEGIN EXCLUSIVE; INSERT INTO audit_meta (key, value) VALUES ('lock-test', 'z')");
      }
    },
  };
  const log = openLog(dir, { checkpointEvery: 10, retentionDays: 90, now: () => now, log: logger });
  for (let i = 1; i <= 25; i++) await log.append(ev(i));
  now = Date.now();
  const r = await log.prune(now);
  assert.deepEqual(r, { anchor: 0, pruned: 0 }, 'not yet: the store is locked');
  assert.match((log.status() as { warnings: string[] }).warnings.join('\n'), /pruning up to seq 20 is waiting/);
  other!.exec('ROLLBACK');
  other!.close();
  await waitFor(() => (log.status() as { anchor: number }).anchor === 20, 5000);
  await log.close();
  const db = openAuditDb(dir);
  const v = verifyAuditLog(db);
  assert.equal(v.ok, true, v.problem);
  assert.equal(v.anchor, 20);
  db.close();
});

test('a real gateway with its store locked by the sqlite3 shell: /healthz stays prompt while audited requests wait; status says why; all is recorded once the lock is gone', async () => {
  const dir = tempState();
  const config = parseConfig({}, join(dir, 'clawguard.json'));
  const gw = new Gateway({ config, stateDir: join(dir, 'state'), port: 0, logger: pino({ level: 'silent' }) });
  await gw.start();
  const auth = { authorization: `Bearer ${gw.token}` };
  try {
    const lock = await sqliteShellLock(join(dir, 'state', 'clawguard.db'));
    const before = (gw.status().audit as { lastSeq: number }).lastSeq;
    // audited requests (each unknown route leaves an http.rejected event before it is answered)
    const waiting = Array.from({ length: 3 }, (_, i) => request(`${gw.url}/v1/nope/${i}`, { headers: auth }).then((r) => r.body.text()));
    await new Promise((r) => setTimeout(r, 100));
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const h = await request(`${gw.url}/healthz`);
      await h.body.text();
      times.push(performance.now() - t0);
    }
    assert.ok(Math.max(...times) < 250, `healthz while locked: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    const s = (await (await request(`${gw.url}/v1/status`, { headers: auth })).body.json()) as { audit: { ok: boolean; reason: string; pending: number } };
    assert.equal(s.audit.ok, false);
    assert.match(s.audit.reason, /locked by another connection/);
    await lock.release();
    await Promise.all(waiting);
    await waitFor(() => (gw.status().audit as { lastSeq: number }).lastSeq >= before + 3, 3000);
    assert.equal((gw.status().audit as { ok: boolean }).ok, true);
  } finally {
    await gw.stop(1000);
  }
});
