import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.js';
import { CedarDecisionPoint, watchPolicyDir } from '../../src/policy/index.js';
import { agent, ctx, pdpFor, req, run, stateDir } from './helpers.js';

const CONFIG = { agents: { p: { tools: { allow: ['system.time', 'fs.read'] } } } };

test('a policy on context.anomalyScore denies once the score passes its threshold (cache or not)', () => {
  const { pdp } = pdpFor(CONFIG, { 'anomaly.cedar': `@id("contain") @reason("anomaly score above 0.8") forbid(principal, action, resource) when { context.anomalyScore.greaterThan(decimal("0.8")) };` });
  const at = (score: number) => pdp.decide(req(run('p'), 'system.time'), ctx({ anomalyScore: score }));
  assert.equal(at(0).effect, 'allow');
  assert.equal(at(0.8).effect, 'allow', 'not above');
  assert.deepEqual([at(0.81).effect, at(0.81).tier, at(0.81).policies, at(0.81).reasons], ['deny', 'local', ['contain'], ['anomaly score above 0.8']]);
  assert.equal(at(0.2).effect, 'allow', 'and back');
  assert.equal(at(Number.NaN).effect, 'deny', 'a score that is not a number counts as the worst');
});

test('time and isolation are in the context: office hours, process isolation only', () => {
  const { pdp } = pdpFor(CONFIG, {
    'hours.cedar': `@id("office-hours") forbid(principal, action == Action::"fs.read", resource) unless { context.hour >= 8 && context.hour < 18 && context.weekday >= 1 && context.weekday <= 5 };
@id("not-before") forbid(principal, action == Action::"system.time", resource) when { context.time < datetime("2026-01-01") };
@id("iso") forbid(principal, action == Action::"fs.read", resource) when { context.isolation != "process" && context.door == "run" };`,
  });
  const read = (time: string, isolation: 'thread' | 'process') => pdp.decide(req(run('p', { isolation }), 'fs.read', { path: '/x' }), ctx({ time }));
  assert.equal(read('2026-03-04T10:00:00.000Z', 'process').effect, 'allow', 'Wednesday 10:00 UTC');
  assert.deepEqual(read('2026-03-04T22:00:00.000Z', 'process').policies, ['office-hours']);
  assert.deepEqual(read('2026-03-07T10:00:00.000Z', 'process').policies, ['office-hours'], 'Saturday');
  assert.deepEqual(read('2026-03-04T10:00:00.000Z', 'thread').policies, ['iso']);
  assert.equal(pdp.decide(req(run('p'), 'system.time'), ctx({ time: '2025-12-31T23:59:59.000Z' })).effect, 'deny');
  assert.equal(pdp.decide(req(run('p'), 'system.time'), ctx({ time: '2026-01-01T00:00:01.000Z' })).effect, 'allow');
});

test('the decision cache hits on repeated requests and never across anything a decision depends on', () => {
  const registry = new Registry();
  const { pdp } = pdpFor(CONFIG, { 'who.cedar': `@id("no-bob") forbid(principal == Agent::"bob", action, resource);\n@id("agents") permit(principal is Agent, action == Action::"system.time", resource);` }, { registry });
  const r = req(run('p'), 'system.time');
  for (let i = 0; i < 5; i++) assert.equal(pdp.decide(r, ctx()).effect, 'allow');
  const s = pdp.status() as { cache: { hits: number; misses: number } };
  assert.equal(s.cache.misses, 1);
  assert.equal(s.cache.hits, 4);
  // the slice names Agent::"bob", so the agent id is part of the key
  assert.equal(pdp.decide(req(agent('alice'), 'system.time'), ctx()).effect, 'allow');
  assert.equal(pdp.decide(req(agent('bob'), 'system.time'), ctx()).effect, 'deny');
  assert.equal(pdp.decide(req(agent('alice'), 'system.time'), ctx()).effect, 'allow');
  // and runs of the same profile share entries: their ids are named by no policy
  pdp.decide(req(run('p', { runId: 'r2', agentId: 'run:r2' }), 'system.time'), ctx());
  assert.equal((pdp.status() as { cache: { hits: number } }).cache.hits, 6);
});

test('the cache tells principals and resources apart when a condition names one', () => {
  const { pdp } = pdpFor(CONFIG, {
    'ids.cedar': `@id("all") permit(principal, action in [Action::"system.time", Action::"fs.read"], resource);
@id("not-bob") forbid(principal, action, resource) when { principal == Agent::"bob" };
@id("not-shadow") forbid(principal, action == Action::"fs.read", resource) when { resource == File::"/etc/shadow" };`,
  });
  const seq = ['alice', 'bob', 'alice', 'bob'].map((a) => pdp.decide(req(agent(a), 'system.time'), ctx()).effect);
  assert.deepEqual(seq, ['allow', 'deny', 'allow', 'deny']);
  const files = ['/etc/passwd', '/etc/shadow', '/etc/passwd', '/etc/shadow'].map((path) => pdp.decide(req(agent('alice'), 'fs.read', { path }), ctx()).effect);
  assert.deepEqual(files, ['allow', 'deny', 'allow', 'deny']);
});

test('explain lists the evaluated policies and the Cedar errors; metrics count decisions by effect and tier', async () => {
  const registry = new Registry();
  const { pdp } = pdpFor(CONFIG, {
    'e.cedar': `@id("overflows") forbid(principal, action == Action::"fs.read", resource) when { context.hour * 1000000000 * 1000000000 * 1000000000 > 1 };
@id("secret") forbid(principal, action == Action::"fs.read", resource) when { context has path && context.path like "/secret/*" };`,
  }, { registry });
  const e = pdp.explain(req(run('p'), 'fs.read', {}), ctx());
  assert.equal(e.effect, 'allow', 'a forbid that cannot be evaluated is not satisfied (Cedar semantics), and says so');
  assert.deepEqual(e.evaluated.sort(), ['config:p:allow:1', 'overflows', 'secret']);
  assert.match(e.errors[0]!, /overflows/);
  assert.ok(e.reasons.some((x) => /could not be evaluated/.test(x)));
  pdp.decide(req(run('p'), 'fs.read', { path: '/secret/x' }), ctx());
  const text = await registry.metrics();
  assert.match(text, /clawguard_policy_decisions_total\{effect="deny",tier="local"\} 1/);
  assert.match(text, /clawguard_policy_decisions_total\{effect="allow",tier="config"\} 1/);
  assert.match(text, /clawguard_policy_decision_seconds_count 2/);
});

test('an invalid policy file is reported and the previous set stays in force', () => {
  const dir = stateDir({ 'a.cedar': `@id("no-time") forbid(principal, action == Action::"system.time", resource);` });
  const config = parseConfig(CONFIG, join(dir, 'clawguard.json'));
  const reloads: boolean[] = [];
  const pdp = new CedarDecisionPoint({ config, stateDir: dir, onReload: (r) => reloads.push(r.ok) });
  assert.equal(pdp.load().ok, true);
  const d = () => pdp.decide(req(run('p'), 'system.time'), ctx());
  assert.equal(d().effect, 'deny');
  for (const broken of [
    'forbid(principal, action == Action::"system.time", resource',
    '@id("x") permit(principal, action == Action::"no.such.tool", resource);',
    '@id("x") permit(principal, action, resource) when { context.nosuch == 1 };',
    '@id("no-time") permit(principal, action, resource);',
    'permit(principal == ?principal, action, resource);',
  ]) {
    writeFileSync(join(dir, 'policies', 'b.cedar'), broken);
    const r = pdp.reload();
    assert.equal(r.ok, false, broken);
    assert.ok(r.errors.length > 0 && r.errors.every((x) => x.includes('b.cedar')), r.errors.join('\n'));
    assert.equal(d().effect, 'deny', 'the old set (with its forbid) is still in force');
    assert.equal((pdp.status() as { ok: boolean }).ok, true, 'a valid set is in force');
  }
  rmSync(join(dir, 'policies', 'a.cedar'));
  writeFileSync(join(dir, 'policies', 'b.cedar'), '@id("fine") permit(principal, action, resource);');
  assert.equal(pdp.reload().ok, true);
  assert.equal(d().effect, 'allow');
  assert.deepEqual(reloads, [true, false, false, false, false, false, true]);
});

test('a broken policy file at start-up denies everything, and status says why', () => {
  const dir = stateDir({ 'bad.cedar': 'permit(' });
  const pdp = new CedarDecisionPoint({ config: parseConfig(CONFIG, join(dir, 'c.json')), stateDir: dir });
  const d = pdp.decide(req(run('p'), 'system.time'), ctx());
  assert.equal(d.effect, 'deny');
  assert.deepEqual(d.policies, ['policy-unavailable']);
  const s = pdp.status() as { ok: boolean; reason: string };
  assert.equal(s.ok, false);
  assert.match(s.reason, /bad\.cedar/);
});

test('a policy directory named in the config must exist', () => {
  const dir = stateDir();
  const pdp = new CedarDecisionPoint({ config: parseConfig({ ...CONFIG, policy: { dir: join(dir, 'nope') } }, join(dir, 'c.json')), stateDir: dir });
  assert.equal(pdp.load().ok, false);
  assert.equal(pdp.decide(req(run('p'), 'system.time'), ctx()).effect, 'deny');
});

test('editing a policy file reloads the set (file watch)', async () => {
  const dir = stateDir();
  const pdp = new CedarDecisionPoint({ config: parseConfig(CONFIG, join(dir, 'c.json')), stateDir: dir });
  pdp.load();
  const keepAlive = setInterval(() => undefined, 1000); // the watcher itself does not keep a process alive
  const reloaded = new Promise<void>((resolve) => {
    const stop = watchPolicyDir(pdp.localDir.dir, () => {
      pdp.reload();
      stop();
      clearInterval(keepAlive);
      resolve();
    }, 20);
  });
  assert.equal(pdp.decide(req(run('p'), 'system.time'), ctx()).effect, 'allow');
  writeFileSync(join(dir, 'policies', 'new.cedar'), '@id("stop") forbid(principal, action, resource);');
  await reloaded;
  assert.deepEqual(pdp.decide(req(run('p'), 'system.time'), ctx()).policies, ['stop']);
});

test('policy ids are unique across files and tiers', () => {
  const dir = stateDir({ 'a.cedar': '@id("x") permit(principal, action, resource);', 'b.cedar': '@id("x") forbid(principal, action, resource);' });
  const pdp = new CedarDecisionPoint({ config: parseConfig(CONFIG, join(dir, 'c.json')), stateDir: dir });
  const r = pdp.load();
  assert.equal(r.ok, false);
  assert.match(r.errors.join(), /duplicate policy id "x"/);
  const dup = stateDir({ 'a.cedar': '@id("config:p:allow:0") permit(principal, action, resource);' });
  assert.equal(new CedarDecisionPoint({ config: parseConfig(CONFIG, join(dup, 'c.json')), stateDir: dup }).load().ok, false);
});
