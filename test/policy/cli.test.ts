import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/gateway.js';

const BIN = resolve('bin/clawguard.js');

function cli(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--config', join(dir, 'clawguard.json'), '--state-dir', join(dir, 'state'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function setup(policies: Record<string, string>): string {
  const dir = tempDir('cg-policy-cli-');
  writeFileSync(join(dir, 'clawguard.json'), JSON.stringify({ agents: { research: { model: 'a/b', tools: { allow: [{ tool: 'fs.read', paths: ['/data/**'] }, 'system.time'], deny: [{ tool: 'fs.read', paths: ['/data/private/**'] }] } } } }));
  mkdirSync(join(dir, 'state', 'policies'), { recursive: true });
  for (const [n, t] of Object.entries(policies)) writeFileSync(join(dir, 'state', 'policies', n), t);
  return dir;
}

const LOCAL = `@id("contain") @reason("anomaly above 0.8") forbid(principal, action, resource) when { context.anomalyScore.greaterThan(decimal("0.8")) };
@id("ops-exec") permit(principal == Agent::"ops-bot", action == Action::"exec.run", resource == Command::"/usr/bin/git");`;

test('policy explain works without a gateway: decision, tier, determining policies and reasons (JSON), exit 1 when denied', () => {
  const dir = setup({ 'ops.cedar': LOCAL });
  const allow = cli(dir, ['policy', 'explain', '--agent', 'research', '--action', 'fs.read', '--resource', '/data/report.csv', '--json']);
  assert.equal(allow.code, 0, allow.stderr);
  assert.deepEqual(JSON.parse(allow.stdout), { decision: 'allow', tier: 'config', policies: ['config:research:allow:0'], reasons: ['fs.read is in agents.research.tools.allow (with its argument rules)'] });
  const config = JSON.parse(cli(dir, ['policy', 'explain', '--agent', 'research', '--action', 'fs.read', '--resource', '/data/private/x', '--json']).stdout);
  assert.deepEqual([config.decision, config.tier, config.policies], ['deny', 'config', ['config:research:deny:0']]);
  const local = cli(dir, ['policy', 'explain', '--agent', 'research', '--action', 'fs.read', '--resource', '/data/report.csv', '--context', '{"anomalyScore": 0.93}', '--json']);
  assert.equal(local.code, 1);
  assert.deepEqual(JSON.parse(local.stdout), { decision: 'deny', tier: 'local', policies: ['contain'], reasons: ['anomaly above 0.8'] });
  const dflt = cli(dir, ['policy', 'explain', '--agent', 'research', '--action', 'exec.run', '--resource', 'git', '--json']);
  assert.deepEqual(JSON.parse(dflt.stdout).tier, 'default');
  const agent = cli(dir, ['policy', 'explain', '--agent', 'ops-bot', '--action', 'exec.run', '--resource', 'git', '--json']);
  assert.deepEqual(JSON.parse(agent.stdout).policies, ['ops-exec'], 'an agent id that is not a profile is a registered agent');
  const text = cli(dir, ['policy', 'explain', '--agent', 'research', '--action', 'system.time']);
  assert.match(text.stdout, /^ALLOW {2}system\.time for research\ntier {6}config\n/);
  const bad = cli(dir, ['policy', 'explain', '--agent', 'research', '--action', 'fs.read', '--context', '{nope']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--context: not valid JSON/);
});

test('policy test runs a table of expected decisions, exit 1 naming each mismatch', () => {
  const dir = setup({ 'ops.cedar': LOCAL });
  const cases = [
    { name: 'reads its data', agent: 'research', action: 'fs.read', resource: '/data/a', expect: 'allow', tier: 'config' },
    { name: 'not private data', agent: 'research', action: 'fs.read', resource: '/data/private/a', expect: 'deny', policies: ['config:research:deny:0'] },
    { name: 'contained', agent: 'research', action: 'system.time', context: { anomalyScore: 0.9 }, expect: 'deny', tier: 'local' },
    { name: 'secrets by default', agent: 'research', action: 'secret.use', resource: 'openai', expect: 'deny' },
  ];
  writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
  const pass = cli(dir, ['policy', 'test', join(dir, 'cases.json')]);
  assert.equal(pass.code, 0, pass.stdout + pass.stderr);
  assert.match(pass.stdout, /4 passed, 0 failed/);
  writeFileSync(join(dir, 'cases.json'), JSON.stringify({ cases: [...cases, { name: 'wrong', agent: 'research', action: 'fs.read', resource: '/etc/passwd', expect: 'allow' }] }));
  const fail = cli(dir, ['policy', 'test', join(dir, 'cases.json'), '--json']);
  assert.equal(fail.code, 1);
  const out = JSON.parse(fail.stdout);
  assert.equal(out.failed, 1);
  assert.deepEqual(out.results.find((r: { ok: boolean }) => !r.ok).mismatches, ['expected allow, got deny']);
  writeFileSync(join(dir, 'cases.json'), JSON.stringify([{ agent: 'research', action: 'fs.read', expect: 'maybe' }]));
  const invalid = cli(dir, ['policy', 'test', join(dir, 'cases.json')]);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /cases\[0\]\.expect/);
});

test('policy check and list; a broken file fails check with its name and line', () => {
  const dir = setup({ 'ops.cedar': LOCAL });
  const ok = cli(dir, ['policy', 'check']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /2 local \(1 file/);
  const list = JSON.parse(cli(dir, ['policy', 'list', '--json']).stdout);
  assert.deepEqual(list.policies.map((p: { id: string }) => p.id), ['contain', 'ops-exec', 'config:research:deny:0', 'config:research:allow:0', 'config:research:allow:1', 'config:research:model']);
  writeFileSync(join(dir, 'state', 'policies', 'zz.cedar'), '\n\npermit(principal, action == Action::"fs.read", resource) when { context.path == 1 };');
  const bad = cli(dir, ['policy', 'check']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /zz\.cedar:3/);
  const explain = cli(dir, ['policy', 'explain', '--agent', 'research', '--action', 'system.time']);
  assert.equal(explain.code, 1);
  assert.match(explain.stderr, /policies do not load/);
  const schema = JSON.parse(cli(dir, ['policy', 'schema']).stdout);
  assert.ok(schema[''].actions['fs.read'] && schema[''].entityTypes.Agent);
});
