/**
 * Property: with the PayloadsAllTheThings traversal lists ({FILE} filled in; raw, URL-decoded once and
 * twice), no payload ever reads or writes anything outside the allowed root, and the canary's contents
 * never come back. Encoded payloads are harmless literal names for a guard that does not decode, so the
 * rule is "never outside", not "always refused" (see the corpus SOURCE.txt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPathGuard } from '../../src/sandbox/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpusDir = path.resolve(repoRoot, '../shared/corpora/path-traversal');
const TOKEN = `PATH-CANARY-${process.pid}-${Date.now()}`;

/** Percent-decode valid %XX escapes once, leaving malformed ones; bytes are read back as UTF-8. */
function decodeOnce(s: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length && /^[0-9a-fA-F]{2}$/.test(String.fromCharCode(src[i + 1]!, src[i + 2]!))) {
      bytes.push(parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes).toString('utf8');
}

function snapshot(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (p === skip) continue;
      if (e.isDirectory()) walk(p);
      else out.set(p, e.isFile() ? fs.readFileSync(p, 'utf8') : 'link');
    }
  };
  walk(dir);
  return out;
}

test('path-traversal corpus: nothing is read or written outside the root; the canary never comes back', async (t) => {
  if (!fs.existsSync(corpusDir)) return t.skip(`corpus not found at ${corpusDir}`);
  // base/canary.txt, base/a/canary.txt … base/a/b/c/canary.txt; root = base/a/b/c/ws (so ../ x1..x4 land on a canary).
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cg-corpus-')));
  const ws = path.join(base, 'a/b/c/ws');
  fs.mkdirSync(path.join(ws, 'blocked'), { recursive: true });
  fs.mkdirSync(path.join(ws, '.state'), { recursive: true });
  fs.mkdirSync(path.join(base, 'etc'), { recursive: true });
  for (const d of ['', 'a', 'a/b', 'a/b/c', 'etc', 'a/b/c/ws/blocked', 'a/b/c/ws/.state']) fs.writeFileSync(path.join(base, d, 'canary.txt'), TOKEN);
  fs.writeFileSync(path.join(base, 'etc', 'passwd'), TOKEN);
  fs.symlinkSync(base, path.join(ws, 'escape')); // a planted link out of the root
  const guard = createPathGuard({ allowedPaths: [ws], blockedPaths: [path.join(ws, 'blocked')], hiddenPaths: [path.join(ws, '.state')], workspace: ws, home: path.join(base, 'a') });
  const before = snapshot(base, ws);
  const wsBefore = snapshot(ws, path.join(ws, '__none__'));

  // Relative fills reach the canaries at every depth; the absolute one reaches base/canary.txt from "/".
  const fills = ['canary.txt', 'etc/passwd', `${path.relative('/', base)}/canary.txt`, 'blocked/canary.txt'];
  const raw = new Set<string>();
  for (const f of fs.readdirSync(corpusDir).filter((n) => n.endsWith('.txt') && n !== 'SOURCE.txt')) {
    for (const line of fs.readFileSync(path.join(corpusDir, f), 'utf8').split(/\r?\n/)) {
      if (!line.trim()) continue;
      if (line.includes('{FILE}')) for (const fill of fills) raw.add(line.split('{FILE}').join(fill));
      else raw.add(line);
    }
  }
  const payloads = new Set<string>();
  for (const p of raw) {
    const once = decodeOnce(p);
    payloads.add(p).add(once).add(decodeOnce(once));
  }
  // Absolute payloads also as file:// URLs (decoded once by the guard).
  for (const p of [...raw].filter((x) => x.startsWith('/')).slice(0, 2000)) payloads.add(`file://${p}`);

  const inRoot = (p: string) => (p === ws || p.startsWith(ws + '/')) && !p.startsWith(path.join(ws, 'blocked')) && !p.startsWith(path.join(ws, '.state')) && !p.startsWith(path.join(ws, 'escape'));
  const stats = { payloads: payloads.size, readOk: 0, writeOk: 0, refused: 0 };
  const list = [...payloads];
  const BATCH = 64;
  for (let i = 0; i < list.length; i += BATCH) {
    await Promise.all(
      list.slice(i, i + BATCH).map(async (p) => {
        try {
          const r = await guard.readFile(p, { maxBytes: 4096 });
          stats.readOk++;
          assert.ok(inRoot(r.path), `read of ${JSON.stringify(p)} resolved to ${r.path}`);
          assert.ok(!r.content.toString('latin1').includes(TOKEN), `canary returned for ${JSON.stringify(p)}`);
          assert.ok(!r.content.toString('latin1').includes('root:x:0:0'), `/etc/passwd returned for ${JSON.stringify(p)}`);
        } catch (e) {
          if (!(e as { code?: string }).code) throw e; // an assertion or an untyped crash
          stats.refused++;
        }
        try {
          const w = await guard.writeFile(p, 'W', { createDirs: true });
          stats.writeOk++;
          assert.ok(inRoot(w.path), `write of ${JSON.stringify(p)} landed at ${w.path}`);
        } catch (e) {
          if (!(e as { code?: string }).code) throw e;
        }
        for (const op of [() => guard.stat(p), () => guard.list(p)]) {
          try {
            const s = await op();
            assert.ok(inRoot(s.path), `stat/list of ${JSON.stringify(p)} reached ${s.path}`);
          } catch (e) {
            if (!(e as { code?: string }).code) throw e;
          }
        }
      }),
    );
  }
  // Nothing outside the root changed or appeared; canaries inside blocked/hidden dirs are intact.
  assert.deepEqual(snapshot(base, ws), before);
  for (const [p, c] of wsBefore) if (p.endsWith('canary.txt')) assert.equal(fs.readFileSync(p, 'utf8'), c);
  assert.ok(stats.payloads > 8_000, `corpus expanded to ${stats.payloads} payloads`);
  assert.ok(stats.writeOk > 0 && stats.refused > 0, JSON.stringify(stats));
  t.diagnostic(JSON.stringify(stats));
  fs.rmSync(base, { recursive: true, force: true });
});
