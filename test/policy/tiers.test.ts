import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ctx, pdpFor, req, run } from './helpers.js';

type Side = 'none' | 'permit' | 'forbid' | 'both';
const SIDES: Side[] = ['none', 'permit', 'forbid', 'both'];

/** The rule of the issue: the first tier with a satisfied policy decides, forbid wins inside it; else deny. */
function expected(local: Side, config: Side, dflt: Side): { effect: 'allow' | 'deny'; tier: string } {
  for (const [tier, side] of [['local', local], ['config', config], ['default', dflt]] as const) {
    if (side === 'none') continue;
    return { effect: side === 'permit' ? 'allow' : 'deny', tier };
  }
  return { effect: 'deny', tier: 'default' };
}

const cedar = (side: Side, tag: string) =>
  [
    side === 'permit' || side === 'both' ? `@id("${tag}-permit") permit(principal, action == Action::"system.time", resource);` : '',
    side === 'forbid' || side === 'both' ? `@id("${tag}-forbid") forbid(principal, action == Action::"system.time", resource);` : '',
  ].join('\n');

test('tier precedence, every combination of local × config × default (none, permit, forbid, both)', () => {
  let n = 0;
  for (const local of SIDES)
    for (const config of SIDES)
      for (const dflt of SIDES) {
        const tools = { allow: config === 'permit' || config === 'both' ? ['system.time'] : [], deny: config === 'forbid' || config === 'both' ? ['system.time'] : [] };
        const { pdp } = pdpFor({ agents: { p: { tools } } }, local === 'none' ? {} : { 'local.cedar': cedar(local, 'local') }, { defaultPolicies: cedar(dflt, 'default') });
        const d = pdp.decide(req(run('p'), 'system.time'), ctx());
        const want = expected(local, config, dflt);
        const label = `local=${local} config=${config} default=${dflt}`;
        assert.equal(d.effect, want.effect, label);
        assert.equal(d.tier, want.tier, label);
        const side = want.tier === 'local' ? local : want.tier === 'config' ? config : dflt;
        if (side === 'none') assert.deepEqual(d.policies, ['default-deny'], label);
        else if (want.tier === 'config') assert.deepEqual(d.policies, [want.effect === 'allow' ? 'config:p:allow:0' : 'config:p:deny:0'], label);
        else assert.deepEqual(d.policies, [`${want.tier}-${want.effect === 'allow' ? 'permit' : 'forbid'}`], label);
        n++;
      }
  assert.equal(n, 64);
});

test('default deny: nothing configured, an unknown profile, a registered agent without grants, a tool no rule names', () => {
  const { pdp } = pdpFor({ agents: { p: { tools: { allow: ['system.time'] } } } });
  for (const [r, why] of [
    [req(run('p'), 'fs.read', { path: '/etc/passwd' }), 'not in the allow list'],
    [req(run('ghost'), 'system.time'), 'profile not in the config'],
    [req({ ...run('p'), profile: undefined } as never, 'system.time'), 'no profile'],
    [req({ kind: 'agent', agentId: 'stranger', trustLevel: 'trusted', capabilities: ['*'], door: 'http' }, 'system.time'), 'registered agent, no grant'],
    [req(run('p'), 'secret.use', { secret: 'x' }), 'secrets are never granted by default'],
  ] as const) {
    const d = pdp.decide(r, ctx());
    assert.equal(d.effect, 'deny', why);
    assert.equal(d.tier, 'default', why);
    assert.deepEqual(d.policies, ['default-deny'], why);
    assert.match(d.reasons[0]!, /denied by default/, why);
  }
  const empty = pdpFor({}).pdp;
  assert.equal(empty.decide(req(run('p'), 'system.time'), ctx()).effect, 'deny');
});

test('within a tier a forbid wins over a permit, and every forbid that applies is named', () => {
  const { pdp } = pdpFor({}, {
    'a.cedar': `@id("p1") permit(principal, action, resource);
@id("f1") @reason("no writes on Fridays") forbid(principal, action == Action::"fs.write", resource);
@id("f2") forbid(principal in Profile::"p", action in Action::"fs.*", resource) when { context has path && context.path like "/etc/*" };`,
  });
  const d = pdp.decide(req(run('p'), 'fs.write', { path: '/etc/hosts' }), ctx());
  assert.equal(d.effect, 'deny');
  assert.equal(d.tier, 'local');
  assert.deepEqual([...d.policies].sort(), ['f1', 'f2']);
  assert.ok(d.reasons.includes('no writes on Fridays'));
  const a = pdp.decide(req(run('p'), 'fs.read', { path: '/srv/x' }), ctx());
  assert.deepEqual([a.effect, a.tier, a.policies], ['allow', 'local', ['p1']]);
});

test('the config tier keeps the allow-list semantics: deny beats allow, groups, model.chat for a profile with a model', () => {
  const { pdp } = pdpFor({
    agents: {
      p: { model: 'anthropic/claude', tools: { allow: ['fs.*', 'system.time', '*'], deny: ['fs.write', { tool: 'exec.run', commands: ['rm'] }] } },
      q: { tools: { allow: ['http.*'] } },
    },
  });
  const d = (p: string, tool: string, args: unknown = {}) => pdp.decide(req(run(p), tool, args), ctx());
  assert.equal(d('p', 'fs.read', { path: '/x' }).effect, 'allow');
  assert.deepEqual(d('p', 'fs.write', { path: '/x' }).policies, ['config:p:deny:0']);
  assert.equal(d('p', 'exec.run', { argv: ['ls'] }).effect, 'allow', '"*" allows it, the deny rule names only rm');
  assert.equal(d('p', 'exec.run', { argv: ['rm', '-rf', '/'] }).effect, 'deny');
  assert.equal(d('p', 'model.chat').effect, 'allow');
  assert.equal(d('q', 'model.chat').effect, 'deny', 'q has no model');
  assert.equal(d('q', 'http.fetch', { url: 'https://a.example/' }).effect, 'allow');
  assert.equal(d('q', 'fs.read', { path: '/x' }).effect, 'deny');
  assert.equal(d('p', 'secret.use', { secret: 'k' }).effect, 'deny', '"*" never grants a secret');
});
