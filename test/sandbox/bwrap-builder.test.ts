import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureMaskPoints } from '../../src/sandbox/bwrap-masks.js';
import {
  buildBwrapArgs,
  detectBubblewrap,
  resetBubblewrapDetection,
  rlimitPrefix,
  runSandboxed,
  sandboxStatus,
  spawnSandboxedNode,
  systemLayout,
  type BwrapSpec,
} from '../../src/sandbox/index.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cg-bb-')));
const ws = path.join(tmp, 'ws');
fs.mkdirSync(path.join(ws, '.state'), { recursive: true });
fs.writeFileSync(path.join(ws, 'token'), 'x');
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const spec = (over: Partial<BwrapSpec> = {}): BwrapSpec => ({
  argv: ['/bin/echo', 'hi'],
  roBinds: ['/usr'],
  rwBinds: [ws],
  network: 'none',
  env: { PATH: '/usr/bin' },
  cwd: ws,
  tmpfsTmp: true,
  dieWithParent: true,
  newSession: true,
  ...over,
});

const after = (args: string[], flag: string) => args.slice(args.indexOf(flag) + 1, args.indexOf(flag) + 3);

test('builder: every sandbox unshares everything, drops root, clears the environment', () => {
  const a = buildBwrapArgs(spec());
  for (const f of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--clearenv']) assert.ok(a.includes(f), f);
  assert.ok(!a.includes('--share-net'));
  assert.deepEqual(after(a, '--uid'), ['65534', '--gid']);
  assert.deepEqual(after(a, '--cap-drop'), ['ALL', '--die-with-parent']);
  assert.equal(a[a.indexOf('--tmpfs') - 2], '--size', 'private /tmp has a size cap');
  assert.deepEqual(after(a, '--bind'), [ws, ws]);
  assert.deepEqual(after(a, '--ro-bind'), ['/usr', '/usr']);
  assert.deepEqual(after(a, '--chdir'), [ws, '--']);
  assert.deepEqual(a.slice(a.indexOf('--') + 1), ['/bin/echo', 'hi']);
  assert.ok(a.indexOf('--clearenv') < a.indexOf('--setenv'));
  // Parents before children; the tmpfs /tmp comes before a bind that lives under /tmp.
  const b = buildBwrapArgs(spec({ roBinds: [path.join(ws, 'sub'), '/usr'], rwBinds: [ws] }));
  assert.ok(b.indexOf(ws) < b.indexOf(path.join(ws, 'sub')));
  assert.ok(b.indexOf('/tmp') < b.indexOf(ws));
  const c = buildBwrapArgs(spec({ syncFds: { info: 3, block: 4 } }));
  assert.deepEqual(after(c, '--info-fd'), ['3', '--block-fd']);
});

test('builder: refuses anything that would weaken the sandbox or expose a hidden path', () => {
  assert.throws(() => buildBwrapArgs(spec({ network: 'host' as 'none' })), /network "none"/);
  assert.throws(() => buildBwrapArgs(spec({ dieWithParent: false as true })));
  assert.throws(() => buildBwrapArgs(spec({ argv: [] })), { code: 'bad_request' });
  assert.throws(() => buildBwrapArgs(spec({ argv: ['a\0b'] })), { code: 'bad_request' });
  assert.throws(() => buildBwrapArgs(spec({ roBinds: ['relative/dir'] })), { code: 'bad_request' });
  assert.throws(() => buildBwrapArgs(spec({ roBinds: ['/'] })), /whole filesystem/);
  assert.throws(() => buildBwrapArgs(spec({ env: { 'BAD-NAME': 'x' } })), { code: 'bad_request' });
  assert.throws(() => buildBwrapArgs(spec({ env: { OK: 'a\0b' } })), { code: 'bad_request' });
  assert.throws(() => buildBwrapArgs(spec({ syncFds: { info: 1, block: 4 } })), { code: 'bad_request' });
  // A bind inside a hidden path, directly or through a symlink, is refused.
  assert.throws(() => buildBwrapArgs(spec({ rwBinds: [path.join(ws, '.state')], hiddenPaths: [path.join(ws, '.state')] })), { code: 'path_blocked' });
  fs.symlinkSync(path.join(ws, '.state'), path.join(tmp, 'state-link'));
  assert.throws(() => buildBwrapArgs(spec({ roBinds: [path.join(tmp, 'state-link')], hiddenPaths: [path.join(ws, '.state')] })), { code: 'path_blocked' });
  assert.throws(() => buildBwrapArgs(spec({ rwBinds: [ws], hiddenPaths: [tmp] })), { code: 'path_blocked' });
});

test('builder: a hidden path inside a bind is covered (empty read-only tmpfs, or /dev/null for a file)', () => {
  const a = buildBwrapArgs(spec({ hiddenPaths: [path.join(ws, '.state'), path.join(ws, 'token')] }));
  const i = a.indexOf(path.join(ws, '.state'));
  assert.deepEqual(a.slice(i - 3, i + 3), ['--perms', '0000', '--tmpfs', path.join(ws, '.state'), '--remount-ro', path.join(ws, '.state')]);
  assert.deepEqual(after(a, '/dev/null'), [path.join(ws, 'token'), '--clearenv']);
  assert.ok(a.indexOf('--tmpfs', a.indexOf('--bind')) > a.indexOf('--bind'), 'masks come after the binds they cover');
  // A missing blocked path inside a read-write bind would be the agent's to create: refused until it has a mask point.
  const missing = path.join(ws, 'not-there', 'deeper');
  assert.throws(() => buildBwrapArgs(spec({ hiddenPaths: [missing] })), { code: 'sandbox_unavailable' });
  ensureMaskPoints([missing], [ws]);
  assert.equal(fs.statSync(missing).mode & 0o7777, 0, 'the mask point is an empty directory with mode 0000');
  const b = buildBwrapArgs(spec({ hiddenPaths: [missing] }));
  assert.deepEqual(b.slice(b.lastIndexOf('--tmpfs') + 1, b.lastIndexOf('--tmpfs') + 3), [missing, '--remount-ro']);
  // Every directory between the bind and the mask is pinned (bound onto itself), before the mask.
  assert.ok(b.indexOf(path.join(ws, 'not-there')) < b.indexOf(missing));
  const pin = b.indexOf(path.join(ws, 'not-there'));
  assert.deepEqual(b.slice(pin - 1, pin + 3), ['--bind', path.join(ws, 'not-there'), path.join(ws, 'not-there'), '--perms']);
  // In a read-only bind nothing can be renamed or created: no pins, and a missing path needs no mask.
  const c = buildBwrapArgs(spec({ rwBinds: [], roBinds: ['/usr', ws], hiddenPaths: [missing, path.join(ws, 'nope')] }));
  assert.equal(c.filter((x) => x === path.join(ws, 'not-there')).length, 0);
  assert.ok(!c.includes(path.join(ws, 'nope')));
  // A symlink on the way to a blocked path could be moved: no mask point behind it, the sandbox is refused.
  fs.mkdirSync(path.join(tmp, 'elsewhere'), { recursive: true });
  fs.symlinkSync(path.join(tmp, 'elsewhere'), path.join(ws, 'linked'));
  assert.throws(() => ensureMaskPoints([path.join(ws, 'linked', 'x')], [ws]), (e: Error & { code: string }) => e.code === 'sandbox_unavailable' || /symlink/.test(e.message));
});

test('systemLayout and rlimits: blocked /etc is not mounted at all; limits map to prlimit flags', () => {
  const withEtc = systemLayout([]);
  assert.ok(withEtc.roBinds.includes('/usr'));
  const noEtc = systemLayout(['/etc']);
  assert.ok(noEtc.roBinds.every((b) => !b.startsWith('/etc')));
  assert.deepEqual(rlimitPrefix({ cpuSeconds: 2, addressSpaceMb: 1, processes: 3, fileSizeMb: 1 }, '/usr/bin/prlimit'), [
    '/usr/bin/prlimit', '--cpu=2', '--as=1048576', '--nproc=3', '--fsize=1048576', '--core=0', '--',
  ]);
  assert.deepEqual(rlimitPrefix({}, '/p'), ['/p', '--core=0', '--']);
});

test('without bubblewrap, exec and process isolation fail closed unless mode is "off"; status says why', async () => {
  const saved = process.env.CLAWGUARD_BWRAP;
  process.env.CLAWGUARD_BWRAP = 'none';
  resetBubblewrapDetection();
  try {
    assert.equal(detectBubblewrap().available, false);
    const st = sandboxStatus('strict');
    assert.equal(st.available, false);
    assert.match(st.reason ?? '', /bubblewrap/);
    await assert.rejects(runSandboxed({ argv: ['true'], workspace: ws, timeoutMs: 1000, maxOutputBytes: 100 }), (e: Error & { code: string }) => e.code === 'sandbox_unavailable' && /never runs unsandboxed/.test(e.message));
    assert.throws(() => spawnSandboxedNode({ script: path.join(ws, 'x.js') }), { code: 'sandbox_unavailable' });
    process.env.SECRET_FOR_TEST = 'leaked';
    const off = await runSandboxed({ argv: ['sh', '-c', 'echo "[$SECRET_FOR_TEST]"; pwd'], workspace: ws, timeoutMs: 5000, maxOutputBytes: 1000, mode: 'off', env: {} });
    delete process.env.SECRET_FOR_TEST;
    assert.equal(off.sandboxed, false);
    assert.equal(off.exitCode, 0);
    assert.equal(off.stdout, `[]\n${ws}\n`, 'even unsandboxed, the environment is cleared and cwd is the workspace');
    assert.equal(sandboxStatus('off').available, true);
    process.env.CLAWGUARD_BWRAP = path.join(tmp, 'no-such-bwrap');
    resetBubblewrapDetection();
    assert.match(detectBubblewrap().reason ?? '', /no-such-bwrap/);
  } finally {
    if (saved === undefined) delete process.env.CLAWGUARD_BWRAP;
    else process.env.CLAWGUARD_BWRAP = saved;
    resetBubblewrapDetection();
  }
});

test('detectBubblewrap reports version and features when present', (t) => {
  const info = detectBubblewrap();
  if (!info.path) return t.skip(`bubblewrap not installed: ${info.reason}`);
  assert.equal(info.available, true, `bubblewrap is installed but cannot sandbox here: ${info.reason}`);
  assert.match(info.version ?? '', /^\d+\.\d+/);
  assert.ok(info.path);
  assert.equal(detectBubblewrap(), info, 'cached');
});
