/** The security-scan command: exit codes 0/1/2, flags, --json, --output. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const commandModule = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/commands/security-scan.js')).href;
/** A minimal program around the registered command, as the CLI builds it (exitOverride, --state-dir). */
const HOST = `
import { Command } from 'commander';
import { registerSecurityScanCommand } from ${JSON.stringify(commandModule)};
const program = new Command('clawguard').exitOverride().option('--state-dir <dir>');
registerSecurityScanCommand(program);
await program.parseAsync(process.argv.slice(0, 1).concat(['clawguard'], process.argv.slice(1)));
`;

/**
 * Run \`clawguard security-scan ...args\` in a child process: the real exit code, stdout and stderr
 * (capturing the test process' own stdout would interfere with the test runner).
 */
async function run(...args: string[]): Promise<Run> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', HOST, 'security-scan', ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 });
  return dir;
}

const CLEAN = { 'notes.md': '# Notes\nNothing to see here.\n', 'app.ts': 'export const add = (a: number, b: number) => a + b;\n' };
const DIRTY = { ...CLEAN, 'install.sh': '#!/bin/sh\ncurl -fsSL https://get.example.dev | sh\n' }; // clawguard:allow (test fixture)

test('exit 0 with no findings, 1 with findings at the selected severities', async () => {
  const clean = tree(CLEAN);
  const dirty = tree(DIRTY);
  try {
    const ok = await run(`--target=${clean}`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /No findings/);
    const bad = await run(`--target=${dirty}`, '--rules=strict', '--severity=critical,high');
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /install\.sh[\s\S]*code\.exec\.curl_pipe_shell/);
    // The same finding, filtered out by severity: exit 0.
    const low = await run(dirty, '--severity=low,info');
    assert.equal(low.code, 0, low.stdout);
  } finally {
    rmSync(clean, { recursive: true, force: true });
    rmSync(dirty, { recursive: true, force: true });
  }
});

test('--json and --format=json/sarif; --output writes the report (0600) instead of stdout', async () => {
  const dirty = tree(DIRTY);
  const outFile = join(dirty, '..', `${dirty.split('/').pop()}-report.sarif`);
  try {
    const j = await run(dirty, '--json');
    assert.equal(j.code, 1);
    const parsed = JSON.parse(j.stdout) as { summary: { total: number }; findings: Array<{ checkId: string }> };
    assert.deepEqual(parsed.findings.map((f) => f.checkId), ['code.exec.curl_pipe_shell']);
    assert.deepEqual(JSON.parse((await run(dirty, '--format=json')).stdout).findings, parsed.findings);
    const s = await run(`--target=${dirty}`, '--format=sarif', '--output', outFile);
    assert.equal(s.code, 1);
    assert.equal(s.stdout, '');
    assert.match(s.stderr, /1 finding\(s\) written to/);
    assert.equal(JSON.parse(readFileSync(outFile, 'utf8')).version, '2.1.0');
    assert.equal(statSync(outFile).mode & 0o777, 0o600);
  } finally {
    rmSync(dirty, { recursive: true, force: true });
    rmSync(outFile, { force: true });
  }
});

test('usage errors: one line on stderr, exit 2', async () => {
  const clean = tree(CLEAN);
  try {
    const cases: Array<[string[], RegExp]> = [
      [[], /missing --target/],
      [['--target'], /--target needs a value/],
      [[`--target=${clean}`, '--rules=paranoid'], /--rules must be standard or strict/],
      [[`--target=${clean}`, '--severity=critical,urgent'], /unknown severity "urgent"/],
      [[`--target=${clean}`, '--format=xml'], /--format must be text, json or sarif/],
      [[`--target=${clean}`, '--json', '--format=sarif'], /--json conflicts/],
      [[`--target=${clean}`, '--bogus'], /unknown option --bogus/],
      [['--bogus'], /unknown option --bogus/],
      [[`--target=${join(clean, 'nope')}`], /target not found/],
      [[clean, 'extra'], /unexpected argument extra/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code} ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  } finally {
    rmSync(clean, { recursive: true, force: true });
  }
});

test('--state-dir is checked for 0700 even outside the target', async () => {
  const clean = tree(CLEAN);
  const state = mkdtempSync(join(tmpdir(), 'cg-scan-state-'));
  try {
    const { chmodSync } = await import('node:fs');
    chmodSync(state, 0o755);
    const r = await run(clean, '--json', '--state-dir', state);
    assert.equal(r.code, 1);
    const f = (JSON.parse(r.stdout) as { findings: Array<{ checkId: string }> }).findings;
    assert.deepEqual(f.map((x) => x.checkId), ['fs.state_dir.perms_readable']);
    assert.ok(existsSync(state));
  } finally {
    rmSync(clean, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
