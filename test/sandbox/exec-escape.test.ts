/**
 * Escape attempts under the real bubblewrap sandbox; every one must be contained.
 * Skipped (with the reason) only when bubblewrap is truly absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { detectBubblewrap, processLimitStatus, runSandboxed, type RunSandboxedOptions } from '../../src/sandbox/index.js';

const TOKEN = `ESCAPE-CANARY-${process.pid}-${Date.now()}`;
const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cg-esc-')));
const ws = path.join(base, 'ws');
const state = path.join(base, 'state'); // the gateway state dir, outside the workspace
const innerState = path.join(ws, '.clawguard'); // … and one that sits inside it
const fakeHome = path.join(base, 'home');
for (const d of [ws, state, innerState, path.join(fakeHome, '.ssh'), path.join(base, 'outside')]) fs.mkdirSync(d, { recursive: true });
for (const f of [path.join(state, 'keys.json'), path.join(innerState, 'db'), path.join(fakeHome, '.ssh', 'id_rsa'), path.join(base, 'outside', 'secret')]) fs.writeFileSync(f, TOKEN);
fs.writeFileSync(path.join(fakeHome, 'readable.txt'), 'ok');
process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));

const bw = detectBubblewrap();
const hidden = [state, innerState, path.join(fakeHome, '.ssh'), '/etc', '/root/.ssh', '/root/.aws'];
function run(script: string, over: Partial<RunSandboxedOptions> = {}) {
  return runSandboxed({ argv: ['/bin/sh', '-c', script], workspace: ws, timeoutMs: 10_000, maxOutputBytes: 256 * 1024, hiddenPaths: hidden, roBinds: [fakeHome], ...over });
}
const all = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;

test('reads of /etc/shadow, ~/.ssh, the state dir and outside files fail; the canary never comes back', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  const r = await run(
    `cat /etc/shadow /etc/passwd /root/.ssh/id_rsa ${fakeHome}/.ssh/id_rsa ${state}/keys.json ${innerState}/db ${base}/outside/secret; ` +
      `ls -la /etc ${fakeHome}/.ssh ${innerState} /root; cat ${fakeHome}/readable.txt; find / -xdev -name keys.json 2>/dev/null; echo done`,
  );
  assert.ok(!all(r).includes(TOKEN), all(r));
  assert.ok(!all(r).includes('root:'), 'no /etc/passwd or /etc/shadow content');
  assert.match(r.stdout, /ok\s*done/, 'the allowed read-only bind is readable');
  assert.match(r.stderr, /shadow: No such file/);
});

test('writes outside the workspace fail or land in the private /tmp; the workspace is writable', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  const marker = `cg-escape-${process.pid}`;
  const r = await run(
    `echo x > /usr/${marker}; echo x > ${fakeHome}/${marker}; echo x > ${base}/outside/${marker}; echo x > ${innerState}/${marker}; ` +
      `echo x > /tmp/${marker} && echo tmp-ok; echo inside > ${ws}/written && echo ws-ok; mount -t tmpfs none /usr 2>&1; echo end`,
  );
  assert.match(r.stdout, /tmp-ok/);
  assert.match(r.stdout, /ws-ok/);
  assert.equal(fs.readFileSync(path.join(ws, 'written'), 'utf8'), 'inside\n');
  for (const p of [`/usr/${marker}`, path.join(fakeHome, marker), path.join(base, 'outside', marker), path.join(innerState, marker), path.join(os.tmpdir(), marker)]) {
    assert.equal(fs.existsSync(p), false, p);
  }
});

test('no network: a TCP connect to a host listener and an abstract unix socket both fail, nothing is recorded', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  let hits = 0;
  const tcp = net.createServer((c) => {
    hits++;
    c.destroy();
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as AddressInfo).port;
  const abstract = `\0clawguard-test-${process.pid}`;
  const unix = net.createServer((c) => {
    hits++;
    c.destroy();
  });
  await new Promise<void>((r) => unix.listen(abstract, r));
  try {
    const js = `const net=require('net');let n=0;const done=(w,e)=>{console.log(w,e);if(++n===3)process.exit(0)};
      net.connect(${port},'127.0.0.1').on('connect',()=>done('tcp','CONNECTED')).on('error',e=>done('tcp',e.code));
      net.connect({path:'\\0clawguard-test-${process.pid}'}).on('connect',()=>done('unix','CONNECTED')).on('error',e=>done('unix',e.code));
      require('dns').lookup('example.com',(e)=>done('dns',e?e.code:'RESOLVED'));`;
    const r = await runSandboxed({ argv: [process.execPath, '-e', js], workspace: ws, timeoutMs: 10_000, maxOutputBytes: 10_000, hiddenPaths: hidden, roBinds: [path.dirname(fs.realpathSync(process.execPath))], limits: { addressSpaceMb: 4096 } });
    assert.ok(!r.stdout.includes('CONNECTED') && !r.stdout.includes('RESOLVED'), all(r));
    assert.match(r.stdout, /tcp E(CONNREFUSED|NETUNREACH)/);
    assert.equal(hits, 0);
    const ifs = await run('cat /proc/net/dev');
    assert.ok(!/eth|ens|wlan|veth/.test(ifs.stdout), `only loopback inside: ${ifs.stdout}`);
  } finally {
    await new Promise((r) => tcp.close(r));
    await new Promise((r) => unix.close(r));
  }
});

test('the gateway environment and processes are invisible; signals cannot reach the parent', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  process.env.CLAWGUARD_TEST_SECRET = TOKEN;
  try {
    const r = await run(`env; cat /proc/1/environ /proc/${process.pid}/environ /proc/*/environ 2>&1; ls /proc | grep -c '^[0-9]'; kill -9 ${process.pid} ${process.ppid}; sleep 30 & kill -9 -1; wait; echo after`, {
      envAllow: ['PATH', 'LANG', 'CLAWGUARD_TEST_SECRET_NOT_THIS'],
    });
    assert.ok(!all(r).includes(TOKEN), 'the secret in the gateway environment never appears');
    assert.match(r.stderr, /No such process/, 'the gateway pid does not exist inside');
    assert.match(r.stdout, /after/, 'kill -9 -1 reached only the sandbox\'s own sleep');
    assert.ok(r.durationMs < 5000);
    const again = await run('echo alive');
    assert.equal(again.stdout, 'alive\n', 'the gateway survived and can still run commands');
    const who = await run('id -u; grep CapEff /proc/self/status; unshare -U true 2>&1 || echo no-userns');
    assert.match(who.stdout, /^65534\n/);
    assert.match(who.stdout, /CapEff:\s+0+\n/);
    assert.match(who.stdout, /no-userns/, 'nested user namespaces are disabled');
  } finally {
    delete process.env.CLAWGUARD_TEST_SECRET;
  }
});

test('a fork bomb is contained by the process limit and leaves nothing behind', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  const pl = processLimitStatus();
  const before = countProcs();
  if (pl.kind === 'none') {
    // Do not fork-bomb a shared machine without a limit; show a bounded flood is still cut by the timeout.
    const r = await run('i=0; while [ $i -lt 50 ]; do sleep 30 & i=$((i+1)); done; wait', { timeoutMs: 1500 });
    assert.equal(r.timedOut, true);
    return t.skip(`process limit unavailable here (${pl.reason}); only the timeout bound was checked`);
  }
  const t0 = Date.now();
  const r = await run('bomb() { bomb | bomb & }; bomb; sleep 2; echo survived', { timeoutMs: 4000, limits: { processes: 32 } });
  assert.ok(Date.now() - t0 < 8000);
  assert.ok(r.timedOut || r.exitCode !== null);
  assert.match(r.stderr, /Cannot fork|Resource temporarily unavailable/, 'the bomb hit the limit');
  await new Promise((res) => setTimeout(res, 200));
  assert.ok(countProcs() <= before + 5, `no runaway processes left (before ${before}, after ${countProcs()})`);
  const ok = spawnSync('/bin/true');
  assert.equal(ok.status, 0, 'the host can still fork');
});

test('disk filling is capped: file size limit in the workspace, size-capped private /tmp', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  const r = await run(`dd if=/dev/zero of=${ws}/big bs=1M count=100 2>&1`, { limits: { fileSizeMb: 4 } });
  assert.ok(fs.statSync(path.join(ws, 'big')).size <= 4 * 1024 * 1024, 'RLIMIT_FSIZE stopped the workspace file');
  assert.match(all(r), /File size limit exceeded|File too large/);
  const tmp = await run('dd if=/dev/zero of=/tmp/big bs=1M count=100 2>&1', { limits: { fileSizeMb: 1000, tmpSizeMb: 8 } });
  assert.match(all(tmp), /No space left/, 'the private /tmp is size-capped');
  fs.rmSync(path.join(ws, 'big'));
});

test('timeout, output cap, CPU limit and exit status are reported', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  const t0 = Date.now();
  const slow = await run('sleep 30', { timeoutMs: 300 });
  assert.equal(slow.timedOut, true);
  assert.equal(slow.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 3000);
  const flood = await run('yes', { maxOutputBytes: 10_000 });
  assert.equal(flood.truncated, true);
  assert.equal(flood.stdout.length, 10_000);
  const cpu = await run('while :; do :; done', { limits: { cpuSeconds: 1 }, timeoutMs: 10_000 });
  assert.equal(cpu.timedOut, false, 'RLIMIT_CPU, not the timeout, ended it');
  assert.notEqual(cpu.exitCode, 0);
  const code = await run('echo out; echo err >&2; exit 7');
  assert.deepEqual([code.exitCode, code.stdout, code.stderr], [7, 'out\n', 'err\n']);
  const stdin = await runSandboxed({ argv: ['cat'], workspace: ws, stdin: 'piped in', timeoutMs: 5000, maxOutputBytes: 100 });
  assert.equal(stdin.stdout, 'piped in');
  const cwd = await run('pwd', { cwd: 'sub-not-needed/..' });
  assert.equal(cwd.stdout, `${ws}\n`);
  await assert.rejects(run('pwd', { cwd: '/etc' }), { code: 'path_blocked' });
  await assert.rejects(runSandboxed({ argv: [], workspace: ws, timeoutMs: 1, maxOutputBytes: 1 }), { code: 'bad_request' });
  await assert.rejects(runSandboxed({ argv: ['true'], workspace: path.join(base, 'nope'), timeoutMs: 100, maxOutputBytes: 1 }), { code: 'not_found' });
  await assert.rejects(run('true', { roBinds: [innerState] }), { code: 'path_blocked' });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const aborted = await run('sleep 30', { signal: ac.signal });
  assert.equal(aborted.signal, 'SIGKILL');
});

function countProcs(): number {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
}

test('die-with-parent: when the gateway process dies, its sandboxes die with it', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  const marker = `cg-orphan-${process.pid}-${Date.now()}`;
  const mod = new URL('../../src/sandbox/index.js', import.meta.url).href;
  const js = `import(${JSON.stringify(mod)}).then((s) => { s.runSandboxed({ argv: ['/bin/sh', '-c', 'sleep 300; echo ${marker}'], workspace: ${JSON.stringify(ws)}, timeoutMs: 300000, maxOutputBytes: 100 }); setTimeout(() => console.log('started'), 300); });`;
  const { spawn } = await import('node:child_process');
  const gw = spawn(process.execPath, ['--input-type=module', '-e', js], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res) => gw.stdout!.on('data', (d: Buffer) => d.toString().includes('started') && res()));
  const running = () => fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).some((n) => {
    try {
      return fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  });
  assert.equal(running(), true, 'the sandboxed command is running');
  gw.kill('SIGKILL');
  await new Promise((res) => gw.once('exit', res));
  for (let i = 0; i < 50 && running(); i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(running(), false, 'the sandbox did not outlive the gateway');
});

test('a descriptor the gateway inherited without close-on-exec does not reach the sandbox', async (t) => {
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  const secret = path.join(base, 'outside', 'secret');
  const mod = new URL('../../src/sandbox/index.js', import.meta.url).href;
  // The "gateway" is a child node that inherits fd 40 open on the secret (as a supervisor might leak it).
  const js = `import(${JSON.stringify(mod)}).then(async (s) => {
    const r = await s.runSandboxed({ argv: ['/bin/sh', '-c', 'cat /proc/self/fd/40; ls -l /proc/self/fd/'], workspace: ${JSON.stringify(ws)}, timeoutMs: 5000, maxOutputBytes: 10000 });
    const own = require('fs').readFileSync('/proc/self/fd/40', 'utf8');
    process.stdout.write(JSON.stringify({ out: r.stdout + r.stderr, parentStillHasIt: own.length > 0 }));
  });`.replace("require('fs')", "(await import('node:fs')).default");
  const { spawn } = await import('node:child_process');
  const fd = fs.openSync(secret, 'r');
  const stdio: Array<'ignore' | 'pipe' | 'inherit' | number> = ['ignore', 'pipe', 'inherit'];
  for (let i = 3; i < 40; i++) stdio.push('ignore');
  stdio[40] = fd;
  const gw = spawn(process.execPath, ['--input-type=module', '-e', js], { stdio });
  fs.closeSync(fd);
  let out = '';
  gw.stdout!.on('data', (d: Buffer) => (out += d));
  await new Promise((res) => gw.once('close', res));
  const r = JSON.parse(out) as { out: string; parentStillHasIt: boolean };
  assert.ok(!r.out.includes(TOKEN), r.out);
  assert.match(r.out, /40 -> \/dev\/null/);
  assert.equal(r.parentStillHasIt, true, "the gateway's own descriptor is left alone");
});
