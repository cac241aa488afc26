/**
 * Config names nothing that does not exist, and every duration is bounded: a timeout of 30 days
 * passed Node's timer limit (2^31-1 ms) and fired at once. Tools outside the catalogue, secret
 * grants naming nobody, durations above each key's maximum: each one a problem naming the key.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError, MAX_TIMER_MS, parseConfig, secretAgentProblems, setLongTimeout, TOOL_CATALOG } from '../../src/config/index.js';
import { AgentRegistry, generateEd25519 } from '../../src/identity/index.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/gateway.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be rejected`);
}

test('every duration key has a maximum, named with its key: 30d timeouts and grace periods are refused', () => {
  const cases: Array<[unknown, string]> = [
    [{ agents: { a: { timeout: '30d' } } }, 'agents.a.timeout: expected at most 24h (86400 s), got "30d"'],
    [{ agents: { a: { 'max-duration': 2_592_000 } } }, 'agents.a.max-duration: expected at most 24h (86400 s), got 2592000'],
    [{ agents: { a: { session: { idleTimeout: '2d' } } } }, 'agents.a.session.idleTimeout: expected at most 24h (86400 s), got "2d"'],
    [{ agents: { a: { session: { maxAge: '8d' } } } }, 'agents.a.session.maxAge: expected at most 7d (604800 s), got "8d"'],
    [{ gateway: { shutdownGraceSeconds: '30d' } }, 'gateway.shutdownGraceSeconds: expected at most 1h (3600 s), got "30d"'],
    [{ gateway: { headersTimeout: '1h' } }, 'gateway.headersTimeout: expected at most 5m (300 s), got "1h"'],
    [{ gateway: { keepAliveTimeout: 1e308 } }, 'gateway.keepAliveTimeout: expected at most 10m (600 s), got 1e+308'],
    [{ secrets: { s: { source: 'env', gracePeriod: '60d' } } }, 'secrets.s.gracePeriod: expected at most 30d (2592000 s), got "60d"'],
    [{ secrets: { s: { source: 'env', cacheTtl: '2d' } } }, 'secrets.s.cacheTtl: expected at most 24h (86400 s), got "2d"'],
    [{ secrets: { s: { source: 'exec', timeoutMs: 3_600_000 } } }, 'secrets.s.timeoutMs: expected at most 600000 (milliseconds, 10m), got 3600000'],
    [{ secrets: { s: { source: 'env', rotation: '400d' } } }, 'secrets.s.rotation: expected at most 366d between rotations, got "400d"'],
    [{ secrets: { s: { source: 'env', rotation: '0 0 31 2 *' } } }, 'secrets.s.rotation: the cron expression "0 0 31 2 *" never fires within a year'],
    [{ models: { m: { type: 'anthropic', baseUrl: 'http://x', timeoutMs: 7_200_000 } } }, 'models.m.timeoutMs: expected at most 3600000 (milliseconds, 1h), got 7200000'],
    [{ sandbox: { exec: { timeoutMs: 2 ** 31 } } }, `sandbox.exec.timeoutMs: expected at most 86400000 (milliseconds, 24h), got ${2 ** 31}`],
    [{ sandbox: { exec: { cpuSeconds: 100_000 } } }, 'sandbox.exec.cpuSeconds: expected at most 86400 (seconds, 24h), got 100000'],
    [{ security: { zeroTrust: { sessionTokenTtl: '30d' } } }, 'security.zeroTrust.sessionTokenTtl: expected at most 24h (86400 s), got "30d"'],
    [{ security: { zeroTrust: { clockSkewSeconds: 86400 } } }, 'security.zeroTrust.clockSkewSeconds: expected at most 3600 (seconds, 1h), got 86400'],
    [{ audit: { checkpointSeconds: 2 ** 31 } }, `audit.checkpointSeconds: expected at most 86400 (seconds, 24h), got ${2 ** 31}`],
    [{ audit: { retentionDays: 1e6 } }, 'audit.retentionDays: expected at most 36500 (days, 100 years), got 1000000'],
    [{ monitoring: { baseline: { sampleWindow: '60d' } } }, 'monitoring.baseline.sampleWindow: expected at most 30d (2592000 s), got "60d"'],
  ];
  for (const [raw, expected] of cases) assert.deepEqual(problems(raw), [expected]);
  // the maxima themselves are accepted, and nothing reaches a timer above Node's limit
  const c = parseConfig({ agents: { a: { timeout: '24h', session: { idleTimeout: '24h', maxAge: '7d' } } }, gateway: { shutdownGraceSeconds: '1h', headersTimeout: '5m', requestTimeout: '1h', keepAliveTimeout: '10m' } });
  assert.equal(c.agents.a!.timeoutSeconds * 1000 <= MAX_TIMER_MS, true);
  assert.equal(c.gateway.shutdownGraceSeconds, 3600);
  assert.deepEqual([c.gateway.headersTimeoutMs, c.gateway.requestTimeoutMs, c.gateway.keepAliveTimeoutMs], [300_000, 3_600_000, 600_000]);
});

test('gateway connection limits: defaults that fit a gateway; a header timeout longer than the request timeout is a problem', () => {
  const c = parseConfig({});
  assert.deepEqual([c.gateway.maxConnections, c.gateway.headersTimeoutMs, c.gateway.requestTimeoutMs, c.gateway.keepAliveTimeoutMs], [1024, 10_000, 30_000, 5_000]);
  assert.deepEqual(problems({ gateway: { headersTimeout: '60s', requestTimeout: '30s' } }), ['gateway.headersTimeout: expected at most gateway.requestTimeout (30 s), got 60 s']);
  assert.deepEqual(problems({ gateway: { maxConnections: 0 } }), ['gateway.maxConnections: expected a positive integer (connections), got 0']);
});

test('setLongTimeout: a delay above the timer limit waits (a plain setTimeout fires at once); an impossible delay is refused', async () => {
  let plain = false;
  let long = false;
  const warn = process.emitWarning;
  process.emitWarning = () => undefined; // Node's TimeoutOverflowWarning for the plain one
  const p = setTimeout(() => (plain = true), MAX_TIMER_MS + 1);
  process.emitWarning = warn;
  const l = setLongTimeout(() => (long = true), MAX_TIMER_MS + 1);
  await new Promise((r) => setTimeout(r, 50));
  clearTimeout(p);
  l.clear();
  assert.equal(plain, true, 'Node clamps the plain timer to 1 ms (the bug class)');
  assert.equal(long, false, 'the long timer still waits');
  let fired = 0;
  setLongTimeout(() => fired++, 5);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(fired, 1);
  for (const bad of [NaN, Infinity, -1, '5' as unknown as number]) assert.throws(() => setLongTimeout(() => undefined, bad), /finite number of milliseconds/);
});

test('tools: an unknown tool or group in tools.allow/deny is a problem with a did-you-mean; catalogue tools and groups pass', () => {
  assert.deepEqual(problems({ agents: { a: { tools: { allow: ['fs.raed'] } } } }), ['agents.a.tools.allow[0]: unknown tool "fs.raed" (did you mean "fs.read"?); the gateway\'s tools are system.time, model.chat, fs.read, fs.write, fs.list, fs.stat, http.fetch, exec.run, and groups such as "fs.*" or "*"']);
  // a typo in a deny list would have denied nothing: with "*" allowed, exec.run would run
  const [deny] = problems({ agents: { a: { tools: { allow: ['*'], deny: ['system.time', 'exec.rum'] } } } });
  assert.match(deny!, /^agents\.a\.tools\.deny\[1\]: unknown tool "exec\.rum" \(did you mean "exec\.run"\?\)/);
  assert.match(problems({ agents: { a: { tools: { allow: [{ tool: 'http.fetchh', hosts: ['x'] }] } } } })[0]!, /^agents\.a\.tools\.allow\[0\]\.tool: unknown tool "http\.fetchh" \(did you mean "http\.fetch"\?\)/);
  assert.match(problems({ agents: { a: { tools: { allow: ['memory.*'] } } } })[0]!, /unknown tool "memory\.\*"/);
  assert.match(problems({ agents: { a: { tools: { allow: ['totally-else'] } } } })[0]!, /unknown tool "totally-else"; the gateway's tools are/);
  assert.doesNotThrow(() => parseConfig({ agents: { a: { tools: { allow: [...TOOL_CATALOG, '*', 'fs.*', 'http.*', 'exec.*', 'system.*', 'model.*'], deny: ['fs.write'] } } } }));
  assert.doesNotThrow(() => parseConfig({ agents: { a: { tools: { allow: ['test.touch'] } } } }, undefined, { extraTools: ['test.touch'] }), 'tools a test registers itself');
});

test('secrets.*.agents: a name that is neither a profile nor a registered agent is an error with a did-you-mean; without a registry it cannot be confirmed (warning)', () => {
  const c = parseConfig({ agents: { researcher: {} }, secrets: { k: { source: 'env', env: 'X', agents: ['researcher', 'reseacher', 'bot-7', 'ghost'] } } });
  const withRegistry = secretAgentProblems(c, new Set(['bot-7']));
  assert.deepEqual(withRegistry.errors.map((p) => `${p.path}: ${p.message}`), [
    'secrets.k.agents[1]: unknown agent "reseacher": neither a profile nor an agent registered in the state dir (did you mean "researcher"?)',
    'secrets.k.agents[3]: unknown agent "ghost": neither a profile nor an agent registered in the state dir',
  ]);
  const without = secretAgentProblems(c);
  assert.deepEqual(without.errors, []);
  assert.deepEqual(without.warnings.map((p) => p.path), ['secrets.k.agents[1]', 'secrets.k.agents[2]', 'secrets.k.agents[3]']);
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [resolve('bin/clawguard.js'), ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => res({ code, stdout, stderr }));
  });
}

test('config check: checks secret grants against the state dir\'s registry (read-only), and names unknown tools', async () => {
  const dir = tempDir('cg-config-check-');
  const state = join(dir, 'state');
  mkdirSync(state, { mode: 0o700 });
  const store = openStore(state);
  const reg = new AgentRegistry(store.db);
  reg.register({ agentId: 'bot-7', publicKey: generateEd25519().publicKey });
  reg.close();
  store.close();
  const file = join(dir, 'clawguard.json');
  writeFileSync(file, JSON.stringify({ agents: { researcher: {} }, secrets: { k: { source: 'env', env: 'X', agents: ['researcher', 'bot-7', 'bot-8'] } } }));
  const bad = await cli(['--state-dir', state, 'config', 'check', file]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(bad.stderr.trim(), 'secrets.k.agents[2]: unknown agent "bot-8": neither a profile nor an agent registered in the state dir (did you mean "bot-7"?)');
  writeFileSync(file, JSON.stringify({ agents: { researcher: {} }, secrets: { k: { source: 'env', env: 'X', agents: ['researcher', 'bot-7'] } } }));
  const good = await cli(['--state-dir', state, 'config', 'check', file]);
  assert.equal(good.code, 0, good.stderr);
  const noState = await cli(['--state-dir', join(dir, 'none'), 'config', 'check', '--json', file]);
  assert.equal(noState.code, 0, noState.stderr);
  assert.match(noState.stderr, /^warning: secrets\.k\.agents\[1\]: agent "bot-7" is not a profile, and no agent registry was readable/);
  assert.equal(JSON.parse(noState.stdout).warnings.length, 1);
  writeFileSync(file, JSON.stringify({ agents: { a: { tools: { allow: ['fs.raed'] } } } }));
  const tool = await cli(['--state-dir', state, 'config', 'check', file]);
  assert.equal(tool.code, 2);
  assert.match(tool.stderr, /agents\.a\.tools\.allow\[0\]: unknown tool "fs\.raed" \(did you mean "fs\.read"\?\)/);
});
