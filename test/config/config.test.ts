import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfigFile, parseConfig, parseConfigText, parseRotation, rotationMaxIntervalSeconds } from '../../src/config/index.js';
import { tempDir } from '../helpers/gateway.js';

const SEEDS = resolve(process.cwd(), '../shared/seed-configs');
const haveSeeds = existsSync(SEEDS);

function problems(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected the config to be rejected');
}

test('every seed config loads', { skip: !haveSeeds && 'shared/seed-configs not present' }, () => {
  const files = readdirSync(SEEDS).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 9);
  for (const f of files) assert.doesNotThrow(() => loadConfigFile(join(SEEDS, f)), f);
});

test('seed 01: thread profile, fresh instance, killed after 300 s, deterministic', { skip: !haveSeeds }, () => {
  const c = loadConfigFile(join(SEEDS, '01-thread-bound.json'));
  const p = c.agents['thread-bound']!;
  assert.equal(p.runtime, 'thread-bound');
  assert.equal(p.autoDestroy, true);
  assert.equal(p.timeoutSeconds, 300);
  assert.equal(p.deterministic, true);
  assert.equal(c.openclawWrapped, false);
});

test('seed 02 and 04: sources and rotation intervals', { skip: !haveSeeds }, () => {
  const c2 = loadConfigFile(join(SEEDS, '02-external-secrets.json'));
  assert.equal(c2.secrets.aws!.source, 'vault');
  assert.deepEqual(c2.secrets.aws!.rotation, { kind: 'interval', seconds: 86400, label: 'daily' });
  assert.equal(c2.secrets.openai!.source, 'aws-secrets-manager');
  assert.equal(c2.secrets.openai!.rotation!.kind === 'interval' && c2.secrets.openai!.rotation!.seconds, 604800);
  const c4 = loadConfigFile(join(SEEDS, '04-level2-external-secrets.json'));
  assert.equal(c4.openclawWrapped, true);
  assert.equal(c4.secrets.encryption!.source, 'aws-kms');
  assert.equal(c4.secrets['api-keys']!.source, 'vault');
  assert.equal(c4.secrets['api-keys']!.sourceSpelling, 'hashiCorp-vault');
});

test('seed 03 and 06: models, timeouts and max-concurrent', { skip: !haveSeeds }, () => {
  const c3 = loadConfigFile(join(SEEDS, '03-level1-thread-bound.json'));
  assert.equal(c3.agents['critical-tasks']!.model, 'claude-opus-4-6-thinking');
  assert.equal(c3.agents['critical-tasks']!.timeoutSeconds, 120);
  assert.equal(c3.agents['routine-tasks']!.model, 'local/gpt-oss-120b');
  assert.equal(c3.agents['routine-tasks']!.timeoutSeconds, 300);
  const c6 = loadConfigFile(join(SEEDS, '06-production-deploy.json'));
  assert.equal(c6.agents.production!.maxConcurrent, 10);
  assert.equal(c6.agents.production!.timeoutSeconds, 120);
});

test('seed 05, 07, 08, 09: monitoring, zero trust, sandbox, baseline', { skip: !haveSeeds }, () => {
  const c5 = loadConfigFile(join(SEEDS, '05-level3-monitoring.json'));
  assert.deepEqual(c5.monitoring.threadBoundMetrics, ['execution-time', 'resource-usage', 'error-rate', 'timeout-count']);
  assert.deepEqual(c5.monitoring.secretMetrics, ['access-count', 'rotation-status', 'exposure-risk']);
  const c7 = loadConfigFile(join(SEEDS, '07-zero-trust.json'));
  assert.equal(c7.zeroTrust.enabled, true);
  assert.equal(c7.zeroTrust.enforcement, 'strict');
  assert.equal(c7.zeroTrust.signAllRequests, true);
  assert.equal(c7.zeroTrust.encryptAllTraffic, true);
  assert.equal(c7.zeroTrust.rateLimit, true);
  assert.equal(c7.zeroTrust.sessionTokenRotation, true);
  const c8 = loadConfigFile(join(SEEDS, '08-sandbox.json'));
  assert.equal(c8.sandbox.mode, 'strict');
  assert.equal(c8.sandbox.isolationLevel, 'process-level');
  assert.deepEqual(c8.sandbox.allowedDomains, ['api.openai.com', 'api.anthropic.com']);
  assert.deepEqual(c8.sandbox.blockedDomains, ['*']);
  assert.ok(c8.sandbox.blockedPaths.includes('/root/.ssh'));
  const c9 = loadConfigFile(join(SEEDS, '09-baseline-telemetry.json'));
  assert.deepEqual(c9.monitoring.baseline, { enabled: true, sampleWindowSeconds: 3600, statisticalDeviation: 3, anomalyScore: 0.8 });
  assert.equal(c9.monitoring.telemetry?.exportFormat, 'JSON-Lines');
});

test('process-level sandbox makes profiles use process isolation', () => {
  const c = parseConfig({ sandbox: { isolationLevel: 'process-level' }, agents: { a: {}, b: { isolation: 'thread' } } });
  assert.equal(c.agents.a!.isolation, 'process');
  assert.equal(c.agents.b!.isolation, 'thread');
});

test('a bad value names the key path, what was expected and what was found', () => {
  assert.deepEqual(problems('{"agents": {"production": {"timeout": "abc"}}}'), ['agents.production.timeout: expected a positive number of seconds, got "abc"']);
});

test('unknown keys are errors with a did-you-mean, inside the openclaw wrapper too', () => {
  assert.deepEqual(problems('{"agents": {"p": {"runtimee": "thread"}}}'), ['agents.p.runtimee: unknown key (did you mean "runtime"?)']);
  assert.deepEqual(problems('{"openclaw": {"agentz": {}}}'), ['openclaw.agentz: unknown key (did you mean "agents"?)']);
  assert.deepEqual(problems('{"sandbox": {"fileAccess": {"alowedPaths": []}}}'), ['sandbox.fileAccess.alowedPaths: unknown key (did you mean "allowedPaths"?)']);
  assert.deepEqual(problems('{"zzzzzzzzzz": 1}'), ['zzzzzzzzzz: unknown key']);
});

test('every problem is listed, one line each', () => {
  const p = problems('{"agents": {"a": {"max-concurrent": 0, "tools": {"allow": [1]}}}, "sandbox": {"mode": "lax"}}');
  assert.deepEqual(p, [
    'agents.a.max-concurrent: expected a positive integer (concurrent runs), got 0',
    'agents.a.tools.allow[0]: expected string or object, got number 1',
    'sandbox.mode: expected one of "strict", "standard", "off", got "lax"',
  ]);
});

test('JSON5 is accepted; a syntax error names line and column', () => {
  const c = parseConfigText(`// comment\n{ agents: { a: { timeout: 5, }, }, }`);
  assert.equal(c.agents.a!.timeoutSeconds, 5);
  const p = problems('{\n  "agents": {\n    "a": ,\n  }\n}');
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^line 3, column 10: not valid JSON\/JSON5/);
});

test('contradictions are problems: auto-destroy false on a thread-bound profile, timeout vs max-duration', () => {
  assert.match(problems('{"agents": {"a": {"auto-destroy": false}}}')[0]!, /^agents\.a\.auto-destroy: expected true for a thread-bound profile/);
  assert.doesNotThrow(() => parseConfig({ agents: { a: { runtime: 'session', 'auto-destroy': false } } }));
  assert.match(problems('{"agents": {"a": {"timeout": 10, "max-duration": 20}}}')[0]!, /^agents\.a\.max-duration: conflicts with agents\.a\.timeout/);
});

test('a key both inside and outside the openclaw wrapper is a problem', () => {
  assert.deepEqual(problems('{"openclaw": {"agents": {}}, "agents": {}}'), ['openclaw.agents: also set at top level as "agents"; set it in one place']);
});

test('rotation schedules: named, durations and cron; invalid ones are rejected', () => {
  assert.equal(parseRotation('36h')?.kind === 'interval' && parseRotation('36h')!.kind, 'interval');
  const cron = parseRotation('0 3 * * *')!;
  assert.equal(cron.kind, 'cron');
  assert.equal(rotationMaxIntervalSeconds(cron), 86400);
  assert.equal(parseRotation('sometimes'), undefined);
  assert.match(problems('{"secrets": {"x": {"source": "env", "rotation": "sometimes"}}}')[0]!, /^secrets\.x\.rotation: expected hourly, daily, weekly, monthly/);
});

test('entry paths are resolved against the config file directory', () => {
  const dir = tempDir();
  const f = join(dir, 'clawguard.json');
  writeFileSync(f, JSON.stringify({ agents: { a: { entry: './agents/a.js' } } }));
  assert.equal(loadConfigFile(f).agents.a!.entry, join(dir, 'agents/a.js'));
  assert.throws(() => loadConfigFile(join(dir, 'missing.json')), (e: unknown) => e instanceof ConfigError && /cannot read/.test(e.message));
});
