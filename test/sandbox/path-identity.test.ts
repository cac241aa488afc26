/**
 * The path guard's identity checks and canonical form under attack: a blocked directory swapped in
 * under a harmless name between the decision and the open (staged and by a real concurrent process),
 * exact opens that refuse anything but the canonical path, and fixed-seed encodings and unicode names.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createPathGuard } from '../../src/sandbox/index.js';
import { mulberry32 } from '../helpers/prng.js';

const SECRET = `ID-SECRET-${process.pid}`;

function layout() {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cg-pid-')));
  const ws = path.join(base, 'ws');
  for (const d of ['proj', 'decoy', 'vault/inner']) fs.mkdirSync(path.join(ws, d), { recursive: true });
  fs.writeFileSync(path.join(ws, 'proj', '.env'), SECRET);
  fs.writeFileSync(path.join(ws, 'vault', 'inner', 'k'), SECRET);
  fs.writeFileSync(path.join(ws, 'decoy', '.env'), 'harmless');
  fs.mkdirSync(path.join(ws, 'decoy', 'inner'));
  fs.writeFileSync(path.join(ws, 'decoy', 'inner', 'k'), 'harmless');
  return { base, ws, done: () => fs.rmSync(base, { recursive: true, force: true }) };
}

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'throw');

test('a blocked path swapped in under a decided name between decision and open is refused (file, and file inside a blocked directory)', async () => {
  const { ws, done } = layout();
  try {
    for (const [name, blockedPath] of [['decoy/.env', path.join(ws, 'proj')], ['decoy/inner/k', path.join(ws, 'vault')]] as const) {
      let swapped = false;
      const g = createPathGuard({
        allowedPaths: [ws],
        blockedPaths: [path.join(ws, 'proj', '.env'), path.join(ws, 'vault')],
        workspace: ws,
        beforeOpen: () => {
          if (swapped) return;
          swapped = true;
          fs.renameSync(path.join(ws, 'decoy'), path.join(ws, 'decoy.old'));
          fs.renameSync(blockedPath, path.join(ws, 'decoy'));
        },
      });
      try {
        const canonical = g.canonical(name, 'read');
        assert.equal(canonical, path.join(ws, name));
        await assert.rejects(g.readFile(canonical, { exact: true }), (e: Error & { code: string }) => e.code === 'path_blocked' && /moved or linked/.test(e.message), name);
      } finally {
        fs.renameSync(path.join(ws, 'decoy'), blockedPath);
        fs.renameSync(path.join(ws, 'decoy.old'), path.join(ws, 'decoy'));
      }
    }
  } finally {
    done();
  }
});

test('exact opens never resolve: a path that is not canonical (symlink on the way, .., relative) is refused', async () => {
  const { ws, done } = layout();
  try {
    fs.symlinkSync(path.join(ws, 'decoy'), path.join(ws, 'link'));
    const g = createPathGuard({ allowedPaths: [ws], blockedPaths: [path.join(ws, 'proj')], workspace: ws });
    assert.equal(await code(g.readFile(path.join(ws, 'link', '.env'), { exact: true })), 'path_blocked', 'a symlink on the way means it is not the canonical path');
    assert.equal(await code(g.readFile(`${ws}/decoy/../proj/.env`, { exact: true })), 'bad_request');
    assert.equal(await code(g.readFile('decoy/.env', { exact: true })), 'bad_request');
    assert.equal(await code(g.readFile(path.join(ws, 'proj', '.env'), { exact: true })), 'path_blocked');
    assert.equal((await g.readFile(path.join(ws, 'decoy', '.env'), { exact: true })).content.toString(), 'harmless');
    assert.equal(g.canonical('link/.env', 'read'), path.join(ws, 'decoy', '.env'), 'canonical() resolves the link itself');
  } finally {
    done();
  }
});

test('a real concurrent swapper renaming the blocked directory to and from a harmless name never gets the secret out', async () => {
  const { ws, done } = layout();
  try {
    const g = createPathGuard({ allowedPaths: [ws], blockedPaths: [path.join(ws, 'proj')], workspace: ws, identityTtlMs: 0 });
    const script = `const fs=require('fs');const ws=process.argv[1];const end=Date.now()+1500;
      while(Date.now()<end){try{fs.renameSync(ws+'/decoy',ws+'/decoy.old');fs.renameSync(ws+'/proj',ws+'/decoy');}catch{}
      try{fs.renameSync(ws+'/decoy',ws+'/proj');fs.renameSync(ws+'/decoy.old',ws+'/decoy');}catch{}}`;
    const child = spawn(process.execPath, ['-e', script, ws], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('close', r));
    const seen: Record<string, number> = {};
    const t0 = Date.now();
    while (Date.now() - t0 < 1400) {
      const [a, b] = await Promise.allSettled([g.readFile('decoy/.env'), g.list('decoy')]);
      if (a.status === 'fulfilled') assert.equal(a.value.content.toString(), 'harmless');
      // proj holds only .env; decoy also holds inner/: a listing that succeeds is the decoy's.
      if (b.status === 'fulfilled') assert.ok(b.value.entries.some((e) => e.name === 'inner'), JSON.stringify(b.value));
      for (const x of [a, b]) {
        const k = x.status === 'fulfilled' ? 'ok' : ((x.reason as { code?: string }).code ?? 'err');
        seen[k] = (seen[k] ?? 0) + 1;
      }
    }
    await exited;
    assert.ok(Object.keys(seen).length > 0, JSON.stringify(seen));
  } finally {
    done();
  }
});

test('fixed-seed encodings, depths and unicode names: the canonical form is the one the guard opens, blocked stays blocked', async () => {
  const { ws, done } = layout();
  try {
    const names = ['a', 'b c', 'ü', 'e\u0301', '％2e', '%2e%2e', '..a', '.hidden', 'x'.repeat(40), '\u202e', '日本'];
    const blockedDir = path.join(ws, 'blk');
    const g = createPathGuard({ allowedPaths: [ws], blockedPaths: [blockedDir], workspace: ws });
    const rnd = mulberry32(99);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    for (let i = 0; i < 300; i++) {
      const inBlocked = rnd() < 0.4;
      const depth = (inBlocked ? 2 : 1) + Math.floor(rnd() * 4);
      // Files end in ".f", so a name is never a file in one round and a directory in another.
      const parts = [inBlocked ? 'blk' : pick(names), ...Array.from({ length: depth - 1 }, () => pick(names))];
      parts[parts.length - 1] += '.f';
      const rel = parts.join('/');
      const abs = path.join(ws, rel);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      if (!fs.existsSync(abs)) fs.writeFileSync(abs, inBlocked ? SECRET : 'fine');
      const spelled = pick([
        rel,
        abs,
        `${ws}//${parts.join('//')}`,
        `./${parts.join('/./')}`,
        `${parts[0]}/../${rel}`,
        `file://${abs.split('/').map((s) => encodeURIComponent(s)).join('/')}`,
        // A raw "%" in a URL is an escape: only names without one may go in unencoded.
        abs.includes('%') ? rel : `file://${abs}`,
      ]);
      if (inBlocked) {
        assert.equal(await code(g.readFile(spelled)), 'path_blocked', spelled);
        continue;
      }
      assert.equal(g.canonical(spelled, 'read'), abs, spelled);
      assert.equal((await g.readFile(spelled)).content.toString(), 'fine', spelled);
    }
  } finally {
    done();
  }
});
