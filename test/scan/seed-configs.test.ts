/**
 * Every seed config is scanned without error, and every finding on it is true. Each expected
 * finding below says why it holds for that file taken as a deployment config (absent settings
 * take clawguard's defaults: zero trust off, thread isolation, no blocked paths).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scan, SEVERITIES, type Finding } from '../../src/scan/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const seedDir = process.env.CLAWGUARD_SEED_CONFIGS ?? resolve(repoRoot, '../shared/seed-configs');
const skip = existsSync(join(seedDir, '01-thread-bound.json')) ? false : `seed configs not found at ${seedDir}`;

const NO_ZERO_TRUST = 'clawguard.zero_trust.disabled'; // no security.zeroTrust block: zero trust is off by default
const NO_MONITORING = 'clawguard.monitoring.missing'; // no monitoring block
const NO_BLOCKED = 'clawguard.sandbox.blocked_paths_missing'; // profiles run, and no sandbox blocks /etc, ~/.ssh, ~/.aws, ~/.gnupg
const THREAD_ISOLATION = 'clawguard.sandbox.isolation_not_process'; // profiles run in thread isolation (no process-level)
const NO_CAP = 'clawguard.agents.max_concurrent_unset'; // a profile without max-concurrent

const EXPECTED: Record<string, string[]> = {
  '01-thread-bound.json': [NO_BLOCKED, NO_ZERO_TRUST, NO_MONITORING, THREAD_ISOLATION, NO_CAP],
  // Secrets only: no profile runs, so sandbox checks do not apply; both secrets are external and rotate daily/weekly.
  '02-external-secrets.json': [NO_ZERO_TRUST, NO_MONITORING],
  // critical-tasks is sensitive and capped at 120 s (fine); neither profile sets max-concurrent.
  '03-level1-thread-bound.json': [NO_BLOCKED, NO_ZERO_TRUST, NO_MONITORING, THREAD_ISOLATION, NO_CAP, NO_CAP],
  '04-level2-external-secrets.json': [NO_ZERO_TRUST, NO_MONITORING],
  '05-level3-monitoring.json': [NO_ZERO_TRUST],
  // production: thread-bound, auto-destroy, 120 s, max-concurrent 10 — all fine.
  '06-production-deploy.json': [NO_BLOCKED, NO_ZERO_TRUST, NO_MONITORING, THREAD_ISOLATION],
  // Zero trust enabled and strict with every policy on.
  '07-zero-trust.json': [NO_MONITORING],
  // Strict, process-level, /etc and /root/.ssh|.aws|.gnupg blocked (the config targets /root), exact domains, default deny.
  '08-sandbox.json': [NO_ZERO_TRUST, NO_MONITORING],
  '09-baseline-telemetry.json': [NO_ZERO_TRUST],
};

function copySeeds(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-seeds-'));
  for (const f of Object.keys(EXPECTED)) {
    copyFileSync(join(seedDir, f), join(dir, f));
    chmodSync(join(dir, f), 0o600); // isolate config findings from the originals' (read-only) modes
  }
  return dir;
}

function summarize(findings: Finding[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of findings) (out[f.file] ??= []).push(f.checkId);
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

for (const rules of ['standard', 'strict'] as const) {
  test(`seed configs (${rules}): recognised, scanned without error, exactly the true findings`, { skip }, async () => {
    const dir = copySeeds();
    try {
      const report = await scan({ target: dir, rules, severities: SEVERITIES });
      assert.deepEqual(report.summary.errors, []);
      assert.equal(report.summary.configs.clawguard, 9);
      assert.equal(report.summary.configs.openclaw, 0);
      const expected = Object.fromEntries(Object.entries(EXPECTED).map(([k, v]) => [k, [...v].sort()]));
      assert.deepEqual(summarize(report.findings), expected);
      for (const f of report.findings) {
        const lines = readFileSync(join(dir, f.file), 'utf8').split('\n').length;
        assert.ok(f.line >= 1 && f.line <= lines, `${f.file}:${f.line} out of range`);
        assert.ok(f.detail.length > 0 && f.remediation.length > 0 && f.title.length > 0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('seed configs in place: permission findings match the files\' real modes', { skip }, async () => {
  const report = await scan({ target: seedDir, severities: SEVERITIES });
  assert.deepEqual(report.summary.errors, []);
  for (const name of readdirSync(seedDir).filter((n) => n.endsWith('.json'))) {
    const mode = statSync(join(seedDir, name)).mode & 0o777;
    const ids = report.findings.filter((f) => f.file === name && f.checkId.startsWith('fs.')).map((f) => f.checkId);
    const expected = mode & 0o022 ? ['fs.config.perms_writable'] : mode & 0o004 ? ['fs.config.perms_world_readable'] : mode & 0o040 ? ['fs.config.perms_group_readable'] : [];
    assert.deepEqual(ids, expected, `${name} mode ${mode.toString(8)}`);
  }
  // The config findings are the same as on the 0600 copies.
  const configOnly = report.findings.filter((f) => !f.checkId.startsWith('fs.'));
  assert.deepEqual(summarize(configOnly), Object.fromEntries(Object.entries(EXPECTED).map(([k, v]) => [k, [...v].sort()])));
});
