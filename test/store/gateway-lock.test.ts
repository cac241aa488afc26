/** One gateway per state dir: the lock file, its stale-lock takeover, and what it refuses. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/server/index.js';
import { acquireGatewayLock, gatewayLockPath, readGatewayLock } from '../../src/store/index.js';
import { tempDir } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

/** The pid of a process that has exited (so kill(pid, 0) fails with ESRCH). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

const lockOf = (pid: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', nonce: 'n1', ...extra });

test('acquire, refuse a second holder naming the pid, release; release leaves a lock that is no longer ours', () => {
  const dir = tempDir('cg-lock-');
  const a = acquireGatewayLock(dir);
  assert.equal(readGatewayLock(gatewayLockPath(dir))?.pid, process.pid);
  assert.throws(() => acquireGatewayLock(dir), (e: Error & { code?: string; details?: { pid?: number } }) => e.code === 'conflict' && e.message.includes(`pid ${process.pid}`) && e.details?.pid === process.pid);
  a.release();
  assert.equal(existsSync(gatewayLockPath(dir)), false);
  const b = acquireGatewayLock(dir);
  a.release(); // a second release of the old holder must not remove b's lock
  assert.equal(readGatewayLock(gatewayLockPath(dir))?.nonce, b.info.nonce);
  b.release();
  assert.deepEqual(readdirSync(dir), [], 'no temp or guard files left behind');
});

test('a stale lock from a dead pid is taken over, with a warning naming it', () => {
  const dir = tempDir('cg-lock-');
  const pid = deadPid();
  writeFileSync(gatewayLockPath(dir), lockOf(pid), { mode: 0o600 });
  const warnings: string[] = [];
  const l = acquireGatewayLock(dir, (w) => warnings.push(w));
  assert.equal(l.tookOverFrom?.pid, pid);
  assert.match(warnings.join('\n'), new RegExp(`took over .* from pid ${pid} .*no longer runs`));
  l.release();
  // a guard left by a dead taker-over is cleared too
  writeFileSync(gatewayLockPath(dir), lockOf(pid));
  writeFileSync(`${gatewayLockPath(dir)}.takeover`, lockOf(deadPid(), { nonce: 'g' }));
  acquireGatewayLock(dir).release();
  assert.deepEqual(readdirSync(dir), []);
});

test('hostile lock contents are refused (never signalled, never silently overwritten); seeded variants', () => {
  const dir = tempDir('cg-lock-');
  const file = gatewayLockPath(dir);
  const rnd = mulberry32(1414);
  const hostile: string[] = [
    '',
    'not json',
    lockOf(0), // kill(0, 0) would signal our own process group
    lockOf(-1), // kill(-1, 0) every process we may signal
    lockOf('123'),
    lockOf(1.5),
    lockOf(Number.MAX_SAFE_INTEGER + 2),
    lockOf(process.pid, { nonce: 7 }),
    '{"pid": 1, "__proto__": {"nonce": "x", "host": "h"}}',
    JSON.stringify({ pid: 1, host: hostname(), nonce: 'n', pad: 'x'.repeat(5 * 1024 * 1024) }), // 5 MB
    `${'['.repeat(100_000)}`,
  ];
  for (let i = 0; i < 30; i++) hostile.push(Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256))).toString('latin1'));
  for (const [i, text] of hostile.entries()) {
    writeFileSync(file, text);
    assert.throws(() => acquireGatewayLock(dir), (e: Error & { code?: string }) => e.code === 'conflict' && /not a gateway lock clawguard wrote|holds/.test(e.message), `variant ${i}`);
  }
  // pid 1 (init) lives: held, named
  writeFileSync(file, lockOf(1));
  assert.throws(() => acquireGatewayLock(dir), /pid 1\b/);
  // another host's lock cannot be checked: held
  writeFileSync(file, lockOf(deadPid(), { host: 'elsewhere.example' }));
  assert.throws(() => acquireGatewayLock(dir), /on elsewhere\.example/);
  // a symlink or directory in its place
  const rm = (p: string) => spawnSync('rm', ['-rf', p]);
  rm(file);
  symlinkSync('/etc/passwd', file);
  assert.throws(() => acquireGatewayLock(dir), /not a plain file/);
  rm(file);
  mkdirSync(file);
  assert.throws(() => acquireGatewayLock(dir), /not a plain file/);
});

test('a Gateway holds its state dir from construction to stop; a second on the same dir is refused before it writes anything', async () => {
  const dir = tempDir('cg-lock-gw-');
  const state = join(dir, 'state');
  const make = () => new Gateway({ config: parseConfig({}), stateDir: state, port: 0, logger: pino({ level: 'silent' }) });
  const a = make();
  await a.start();
  const before = readdirSync(state).sort();
  assert.throws(make, (e: Error & { code?: string }) => e.code === 'conflict' && e.message.includes(`pid ${process.pid}`));
  assert.deepEqual(readdirSync(state).sort(), before);
  const health = await fetch(`${a.url}/healthz`);
  assert.equal(health.status, 200);
  await a.stop(0);
  assert.equal(existsSync(gatewayLockPath(state)), false);
  const b = make();
  await b.start();
  await b.stop(0);
});
