import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { tempDir, waitFor, writeAgent } from '../helpers/gateway.js';
import { cli, startGatewayProcess } from './spawn-cli.js';
import { sandboxedChildren } from '../helpers/processes.js';

const SEEDS = resolve('../shared/seed-configs');

test('--help lists every command', () => {
  const r = cli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['init', 'config', 'start', 'run', 'runs', 'status', 'security-scan']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`), c);
});

test('unknown command and bad flags exit 2', () => {
  assert.equal(cli(['frobnicate']).code, 2);
  assert.equal(cli(['start', '--port', 'abc'], { cwd: tempDir() }).code, 2);
});

test('config check: seeds exit 0; a bad file exits 2 with one line per problem', { skip: !existsSync(SEEDS) && 'no seeds' }, () => {
  // Seed 08 allows /tmp to its agents, and the suite itself may sit under /tmp (CI clones there): the
  // seeds are checked from a directory outside every path they allow, state dir included, as a
  // deployment would put them. The same file beside a state dir under /tmp is refused (below).
  const home = mkdtempSync(join('/var/tmp', 'cg-seeds-'));
  for (const f of readdirSync(SEEDS).filter((x) => x.endsWith('.json'))) {
    copyFileSync(join(SEEDS, f), join(home, f));
    const r = cli(['config', 'check', join(home, f), '--state-dir', join(home, '.clawguard')], { cwd: home });
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
  }
  const inTmp = cli(['config', 'check', join(home, '08-sandbox.json'), '--state-dir', join(tempDir(), '.clawguard')], { cwd: home });
  assert.equal(inTmp.code, 2);
  assert.match(inTmp.stderr, /the state dir .* lies inside sandbox\.fileAccess\.allowedPaths\[2\] \(\/tmp\)/);
  rmSync(home, { recursive: true, force: true });
  const dir = tempDir();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"agents": {"production": {"timeout": "abc", "runtimee": 1}}}');
  const r = cli(['config', 'check', bad]);
  assert.equal(r.code, 2);
  assert.deepEqual(r.stderr.trim().split('\n'), ['agents.production.timeout: expected a positive number of seconds, got "abc"', 'agents.production.runtimee: unknown key (did you mean "runtime"?)']);
  const j = cli(['config', 'check', bad, '--json']);
  assert.equal(j.code, 2);
  assert.equal(JSON.parse(j.stdout).problems.length, 2);
  const good = cli(['config', 'check', join(SEEDS, '06-production-deploy.json'), '--json']);
  assert.equal(JSON.parse(good.stdout).agents[0].maxConcurrent, 10);
});

test('init writes a commented starter config and a 0700 state dir with a 0600 token; the starter is valid', () => {
  const dir = tempDir();
  const r = cli(['init'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const cfg = readFileSync(join(dir, 'clawguard.json'), 'utf8');
  assert.match(cfg, /^\/\/ /m);
  assert.equal(statSync(join(dir, '.clawguard')).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, '.clawguard/operator.token')).mode & 0o777, 0o600);
  assert.equal(cli(['config', 'check', 'clawguard.json'], { cwd: dir }).code, 0);
  assert.equal(cli(['init'], { cwd: dir }).code, 2, 'refuses to overwrite');
});

test('start with an invalid config exits 2 and starts nothing', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'clawguard.json'), '{"agents": {"a": {"timeout": -1}}}');
  const r = cli(['start', '--port', '0'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /agents\.a\.timeout/);
  assert.match(r.stderr, /nothing started/);
  assert.equal(existsSync(join(dir, '.clawguard/gateway.json')), false);
});

test('start refuses plaintext on a non-loopback bind', () => {
  const dir = tempDir();
  const r = cli(['start', '--port', '0', '--host', '0.0.0.0'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refusing to serve plaintext HTTP on 0\.0\.0\.0/);
});

test('the tour: start, run --wait --json, runs list/show, status --agents, graceful SIGTERM', async () => {
  const dir = tempDir();
  writeAgent(dir, 'agent.js', `export default async (input, ctx) => { const t = await ctx.tools.call('system.time', {}); return { hello: input.name, time: t.ok }; }`);
  writeAgent(dir, 'slow.js', `export default async () => { const t = Date.now(); while (Date.now() - t < 1500) {} return 'finished'; }`);
  writeFileSync(join(dir, 'clawguard.json'), JSON.stringify({ agents: { tour: { entry: './agent.js', tools: { allow: ['system.time'] } }, slow: { entry: './slow.js' } } }));
  const child = await startGatewayProcess(dir);
  try {
    const r = cli(['run', 'tour', '--input', '{"name":"ada"}', '--wait', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout);
    assert.equal(run.state, 'succeeded');
    assert.deepEqual(run.output, { hello: 'ada', time: true });
    const show = JSON.parse(cli(['runs', 'show', run.runId, '--json'], { cwd: dir }).stdout);
    assert.equal(show.runId, run.runId);
    const list = JSON.parse(cli(['runs', 'list', '--json'], { cwd: dir }).stdout);
    assert.ok(list.runs.some((x: { runId: string }) => x.runId === run.runId));
    const st = cli(['status', '--agents', '--json'], { cwd: dir });
    assert.equal(st.code, 0, st.stderr);
    const tour = JSON.parse(st.stdout).agents.find((a: { profile: string }) => a.profile === 'tour');
    assert.equal(tour.totals.succeeded, 1);
    const text = cli(['status', '--agents'], { cwd: dir });
    assert.match(text.stdout, /^tour\s+thread-bound\s+thread/m);
    // the plain view names the policy set, the audit log and identity in force
    const full = cli(['status'], { cwd: dir });
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /^policy {4}ok; local 0, config \d+, default 0; loaded /m);
    assert.match(full.stdout, /^audit {5}ok; last seq [1-9]\d*/m);
    assert.match(full.stdout, /^identity  agents 0 active, 0 revoked, 0 expired; .*signatures by libsodium; \d+ requests rejected$/m);
    assert.equal(cli(['run', 'nope', '--wait'], { cwd: dir }).code, 1);
    assert.equal(cli(['run', 'tour', '--input', '{bad'], { cwd: dir }).code, 2);
    // graceful shutdown lets a running run finish within the grace period
    const slow = JSON.parse(cli(['run', 'slow', '--json'], { cwd: dir }).stdout);
    await new Promise((res) => setTimeout(res, 300));
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    assert.equal(child.exitCode, 0);
    assert.equal(existsSync(join(dir, '.clawguard/gateway.json')), false);
    // the run record survives in the store: start again and read it
    const again = await startGatewayProcess(dir);
    try {
      const rec = JSON.parse(cli(['runs', 'show', slow.runId, '--json'], { cwd: dir }).stdout);
      assert.equal(rec.state, 'succeeded');
      assert.equal(rec.output, 'finished');
    } finally {
      again.kill('SIGTERM');
      await new Promise((res) => again.once('exit', res));
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('the CLI says clearly when no gateway runs', () => {
  const r = cli(['status'], { cwd: tempDir() });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no running gateway found/);
});

test('no instance outlives the gateway: SIGKILL of the gateway takes its sandboxed children with it', async (t) => {
  const { detectBubblewrap } = await import('../../src/sandbox/index.js');
  if (!detectBubblewrap().available) return t.skip('bubblewrap not available');
  const dir = tempDir();
  writeAgent(dir, 'p.js', `export default async () => { for (;;) {} }`);
  writeFileSync(join(dir, 'clawguard.json'), JSON.stringify({ agents: { p: { entry: './p.js', isolation: 'process', warmPool: 2, timeout: 60 } } }));
  const before = new Set(sandboxedChildren());
  const child = await startGatewayProcess(dir);
  const r = cli(['run', 'p', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => sandboxedChildren().filter((p) => !before.has(p)).length >= 3, 20_000);
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  await waitFor(() => sandboxedChildren().filter((p) => !before.has(p)).length === 0, 10_000);
});
