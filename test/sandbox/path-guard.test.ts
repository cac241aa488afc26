import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPathGuard, type PathGuard } from '../../src/sandbox/index.js';

const TOKEN = `CANARY-${process.pid}-${Date.now()}`;

/** base/{outside/secret.txt, ws/{inner.txt, blocked/b.txt, .state/s.txt, sub/}} — ws allowed, blocked and .state not. */
function layout() {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cg-pg-')));
  const ws = path.join(base, 'ws');
  const outside = path.join(base, 'outside');
  for (const d of [ws, outside, path.join(ws, 'blocked'), path.join(ws, '.state'), path.join(ws, 'sub')]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret.txt'), TOKEN);
  fs.writeFileSync(path.join(ws, 'blocked', 'b.txt'), TOKEN);
  fs.writeFileSync(path.join(ws, '.state', 's.txt'), TOKEN);
  fs.writeFileSync(path.join(ws, 'inner.txt'), 'inside');
  const guard = createPathGuard({ allowedPaths: [ws], blockedPaths: [path.join(ws, 'blocked')], hiddenPaths: [path.join(ws, '.state')], workspace: ws, home: base });
  return { base, ws, outside, guard, done: () => fs.rmSync(base, { recursive: true, force: true }) };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? 'throw';
  }
}

test('canonicalises before deciding: relative, dot segments, duplicate slashes, ~, file URLs', async () => {
  const { ws, guard, done, base } = layout();
  try {
    assert.equal(await guard.resolve('inner.txt', 'read'), path.join(ws, 'inner.txt'));
    assert.equal(await guard.resolve('./sub/../inner.txt', 'read'), path.join(ws, 'inner.txt'));
    assert.equal(await guard.resolve(`${ws}//sub///..//inner.txt`, 'read'), path.join(ws, 'inner.txt'));
    assert.equal(await guard.resolve('~/ws/inner.txt', 'read'), path.join(ws, 'inner.txt'));
    assert.equal(await guard.resolve(`file://${ws}/in%6Eer.txt`, 'read'), path.join(ws, 'inner.txt'), 'file URL decoded once');
    // A plain path is never URL-decoded: "%2e%2e" is a literal (odd) name inside the workspace.
    assert.equal(await guard.resolve('%2e%2e/outside/secret.txt', 'read'), path.join(ws, '%2e%2e/outside/secret.txt'));
    assert.equal(await code(guard.resolve('../outside/secret.txt', 'read')), 'path_blocked');
    assert.equal(await code(guard.resolve(`file://${base}/outside/secret.txt`, 'read')), 'path_blocked');
    assert.equal(await code(guard.resolve(`file://${ws}/%252e%252e/x`, 'read')), 'ok', 'file URL decoded only once: %25 → literal %');
    assert.equal(await code(guard.resolve(`file://${ws}/a%2Fb`, 'read')), 'bad_request', 'encoded slash in a file URL');
    assert.equal(await code(guard.resolve('file://evil.example/etc/passwd', 'read')), 'bad_request');
    assert.equal(await code(guard.resolve('inner.txt\0.png', 'read')), 'bad_request');
    assert.equal(await code(guard.resolve('', 'read')), 'bad_request');
    assert.equal(await code(guard.resolve(42 as unknown as string, 'read')), 'bad_request');
    const noWs = createPathGuard({ allowedPaths: [ws], blockedPaths: [] });
    assert.equal(await code(noWs.resolve('inner.txt', 'read')), 'bad_request', 'relative path without a workspace');
  } finally {
    done();
  }
});

test('blocked and hidden paths win over allowed ones, whichever is more specific; messages name path and reason', async () => {
  const { ws, guard, done } = layout();
  try {
    await assert.rejects(guard.readFile('blocked/b.txt'), (e: Error & { code: string }) => e.code === 'path_blocked' && e.message.includes('b.txt') && e.message.includes('blocked path'));
    await assert.rejects(guard.readFile('.state/s.txt'), (e: Error & { code: string }) => e.code === 'path_blocked' && !e.message.includes('.state"') && e.message.includes('never exposes'));
    await assert.rejects(guard.readFile('/etc/passwd'), (e: Error & { code: string }) => e.code === 'path_blocked' && e.message.includes('/etc/passwd') && e.message.includes('outside the allowed paths'));
    // A more specific allow inside a block still loses.
    const g2 = createPathGuard({ allowedPaths: [ws, path.join(ws, 'blocked', 'deeper')], blockedPaths: [path.join(ws, 'blocked')] });
    assert.equal(await code(g2.resolve(path.join(ws, 'blocked', 'deeper', 'x'), 'read')), 'path_blocked');
    // "/foo" does not cover "/foobar".
    fs.mkdirSync(path.join(ws, 'blockedness'));
    assert.equal(await code(guard.resolve('blockedness/x', 'write')), 'ok');
    // ~ in configured roots.
    const g3 = createPathGuard({ allowedPaths: ['~/ws'], blockedPaths: ['~/ws/sub'], home: path.dirname(ws), workspace: ws });
    assert.equal(await code(g3.resolve('inner.txt', 'read')), 'ok');
    assert.equal(await code(g3.resolve('sub/x', 'read')), 'path_blocked');
    assert.equal(guard.decide('/etc').ok, false);
    assert.throws(() => createPathGuard({ allowedPaths: ['relative/dir'], blockedPaths: [] }), { code: 'config_invalid' });
  } finally {
    done();
  }
});

test('symlinks: one pointing outside is refused; one inside is followed for reads but never for writes', async () => {
  const { ws, outside, guard, done } = layout();
  try {
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(ws, 'link-out'));
    fs.symlinkSync(outside, path.join(ws, 'dir-out'));
    fs.symlinkSync(path.join(ws, 'inner.txt'), path.join(ws, 'link-in'));
    fs.symlinkSync(path.join(ws, 'blocked'), path.join(ws, 'link-blocked'));
    fs.symlinkSync('loop-b', path.join(ws, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(ws, 'loop-b'));
    await assert.rejects(guard.readFile('link-out'), /reached through a symlink/);
    await assert.rejects(guard.readFile('dir-out/secret.txt'), { code: 'path_blocked' });
    await assert.rejects(guard.writeFile('dir-out/new.txt', 'x'), { code: 'path_blocked' });
    await assert.rejects(guard.readFile('link-blocked/b.txt'), { code: 'path_blocked' });
    assert.equal((await guard.readFile('link-in')).content.toString(), 'inside');
    await assert.rejects(guard.writeFile('link-in', 'changed'), /writes never follow symlinks/);
    assert.equal(fs.readFileSync(path.join(ws, 'inner.txt'), 'utf8'), 'inside');
    assert.notEqual(await code(guard.readFile('loop-a')), 'ok');
    assert.equal(fs.existsSync(path.join(outside, 'new.txt')), false);
  } finally {
    done();
  }
});

test('readFile caps size, refuses directories, FIFOs and devices; stat and list report without leaking', async () => {
  const { ws, guard, done } = layout();
  try {
    fs.writeFileSync(path.join(ws, 'big.bin'), Buffer.alloc(100_000, 7));
    const r = await guard.readFile('big.bin', { maxBytes: 1000 });
    assert.equal(r.content.length, 1000);
    assert.equal(r.truncated, true);
    assert.equal(r.size, 100_000);
    const full = await guard.readFile('inner.txt', { maxBytes: 6 });
    assert.equal(full.truncated, false);
    assert.equal(full.path, path.join(ws, 'inner.txt'));
    assert.equal(await code(guard.readFile('sub')), 'bad_request');
    assert.equal(await code(guard.readFile('missing.txt')), 'not_found');
    const fifo = spawn('mkfifo', [path.join(ws, 'pipe')]);
    await new Promise((res) => fifo.on('close', res));
    if (fs.existsSync(path.join(ws, 'pipe'))) assert.equal(await code(guard.readFile('pipe')), 'bad_request', 'a FIFO is not read (and does not hang)');
    const st = await guard.stat('inner.txt');
    assert.equal(st.type, 'file');
    assert.equal(st.size, 6);
    assert.equal((await guard.stat('sub')).type, 'directory');
    fs.symlinkSync('inner.txt', path.join(ws, 'ln'));
    const l = await guard.list('.');
    const names = l.entries.map((e) => e.name);
    assert.ok(names.includes('inner.txt') && names.includes('sub') && names.includes('ln'));
    assert.ok(!names.includes('blocked') && !names.includes('.state'), 'blocked and hidden entries are not even named');
    assert.equal(l.entries.find((e) => e.name === 'ln')?.type, 'symlink');
    assert.equal(l.entries.find((e) => e.name === 'inner.txt')?.size, 6);
    const capped = await guard.list('.', { maxEntries: 1 });
    assert.equal(capped.entries.length, 1);
    assert.equal(capped.truncated, true);
    await assert.rejects(guard.list('/etc'), { code: 'path_blocked' });
    await assert.rejects(guard.list('inner.txt'), { code: 'bad_request' });
  } finally {
    done();
  }
});

test('writeFile creates only inside a root, makes parents, refuses hard links, roots, oversize data', async () => {
  const { ws, outside, guard, done } = layout();
  try {
    const w = await guard.writeFile('new/deep/file.txt', 'hello', { createDirs: true });
    assert.deepEqual(w, { path: path.join(ws, 'new/deep/file.txt'), bytes: 5, created: true });
    const w2 = await guard.writeFile('new/deep/file.txt', 'hi');
    assert.equal(w2.created, false);
    assert.equal(fs.readFileSync(path.join(ws, 'new/deep/file.txt'), 'utf8'), 'hi', 'overwrite truncates');
    await assert.rejects(guard.writeFile('x.txt', 'x'.repeat(11), { maxBytes: 10 }), { code: 'bad_request' });
    await assert.rejects(guard.writeFile('nodir/x.txt', 'x'), { code: 'not_found' }, 'parents are created only on request');
    await assert.rejects(guard.writeFile(ws, 'x'), { code: 'bad_request' });
    await assert.rejects(guard.writeFile('sub', 'x'), { code: 'bad_request' });
    fs.linkSync(path.join(outside, 'secret.txt'), path.join(ws, 'hard.txt'));
    await assert.rejects(guard.writeFile('hard.txt', 'pwned'), /hard links/);
    assert.equal(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8'), TOKEN);
    await assert.rejects(guard.writeFile('../outside/new.txt', 'x'), { code: 'path_blocked' });
    await assert.rejects(guard.writeFile('blocked/new.txt', 'x'), { code: 'path_blocked' });
    await assert.rejects(guard.writeFile('.state/new.txt', 'x'), { code: 'path_blocked' });
    assert.deepEqual(fs.readdirSync(outside), ['secret.txt']);
    const bin = await guard.writeFile('bin.dat', new Uint8Array([1, 2, 3]));
    assert.equal(bin.bytes, 3);
  } finally {
    done();
  }
});

/** Swap ws/dir for a symlink to `outside` between the decision and the open. */
function swapper(ws: string, outside: string) {
  return async (_canonical: string) => {
    const dir = path.join(ws, 'dir');
    if (fs.lstatSync(dir).isSymbolicLink()) return;
    fs.renameSync(dir, path.join(ws, 'dir.real'));
    fs.symlinkSync(outside, dir);
  };
}

test('TOCTOU: a symlink swapped in after the check is caught by the /proc/self/fd re-check (read, stat, list)', async () => {
  const { ws, outside, done } = layout();
  try {
    for (const op of ['read', 'stat', 'list'] as const) {
      fs.rmSync(path.join(ws, 'dir'), { recursive: true, force: true });
      fs.rmSync(path.join(ws, 'dir.real'), { recursive: true, force: true });
      fs.mkdirSync(path.join(ws, 'dir'));
      fs.writeFileSync(path.join(ws, 'dir', 'secret.txt'), 'inside');
      const g: PathGuard = createPathGuard({ allowedPaths: [ws], blockedPaths: [], workspace: ws, beforeOpen: swapper(ws, outside) });
      const p = op === 'list' ? g.list('dir') : op === 'stat' ? g.stat('dir/secret.txt') : g.readFile('dir/secret.txt');
      await assert.rejects(p, (e: Error & { code: string }) => e.code === 'path_blocked' && /changed/.test(e.message), op);
    }
  } finally {
    done();
  }
});

test('TOCTOU: a write never follows a symlink swapped into a parent after the check', async () => {
  const { ws, outside, done } = layout();
  try {
    fs.mkdirSync(path.join(ws, 'dir'));
    const g = createPathGuard({ allowedPaths: [ws], blockedPaths: [], workspace: ws, beforeOpen: swapper(ws, outside) });
    await assert.rejects(g.writeFile('dir/planted.txt', 'x', { createDirs: true }), { code: 'path_blocked' });
    assert.deepEqual(fs.readdirSync(outside), ['secret.txt'], 'nothing was created outside');
  } finally {
    done();
  }
});

test('TOCTOU under a real concurrent swapper: no read returns the canary, no write lands outside', async () => {
  const { ws, outside, guard, done } = layout();
  try {
    fs.mkdirSync(path.join(ws, 'dir'));
    fs.writeFileSync(path.join(ws, 'dir', 'secret.txt'), 'inside');
    const script = `
      const fs = require('fs'); const [ws, out] = process.argv.slice(1);
      const end = Date.now() + 1500;
      while (Date.now() < end) {
        try { fs.renameSync(ws + '/dir', ws + '/dir.real'); fs.symlinkSync(out, ws + '/dir'); } catch {}
        try { fs.unlinkSync(ws + '/dir'); fs.renameSync(ws + '/dir.real', ws + '/dir'); } catch {}
      }`;
    const child = spawn(process.execPath, ['-e', script, ws, outside], { stdio: 'ignore' });
    const exited = new Promise((res) => child.on('close', res));
    const outcomes: Record<string, number> = {};
    const t0 = Date.now();
    while (Date.now() - t0 < 1400) {
      const [r, w] = await Promise.allSettled([guard.readFile('dir/secret.txt'), guard.writeFile(`dir/w${Date.now() % 7}.txt`, 'x', { createDirs: true })]);
      if (r.status === 'fulfilled') {
        assert.equal(r.value.content.toString(), 'inside');
        assert.ok(r.value.path.startsWith(ws + '/'));
      }
      if (w.status === 'fulfilled') assert.ok(w.value.path.startsWith(ws + '/'), w.value.path);
      for (const x of [r, w]) {
        const k = x.status === 'fulfilled' ? 'ok' : ((x.reason as { code?: string }).code ?? 'err');
        outcomes[k] = (outcomes[k] ?? 0) + 1;
      }
    }
    await exited;
    assert.deepEqual(fs.readdirSync(outside), ['secret.txt'], `nothing created outside (${JSON.stringify(outcomes)})`);
    assert.equal(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8'), TOKEN);
  } finally {
    done();
  }
});
