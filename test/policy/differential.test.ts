/**
 * The PDP hands Cedar only the policies whose scope can match, opened to `All`, with only the
 * entities, attributes and context the slice reads. With one tier, its decisions must equal bare
 * Cedar's on the full policy set and the full request, for every request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { ActionRequest } from '../../src/pipeline/index.js';
import { CONTEXT_ATTRIBUTES } from '../../src/policy/index.js';
import { RequestFacts } from '../../src/policy/request.js';
import { agent, ctx, pdpFor, req, run } from './helpers.js';

const POLICIES = `
@id("a") permit(principal in Profile::"p1", action in Action::"fs.*", resource) when { context has path && context.path like "/data/*" };
@id("b") forbid(principal, action == Action::"fs.write", resource is File) when { resource.path like "*.lock" };
@id("c") permit(principal is Agent, action, resource) when { principal in Role::"admin" && principal.trustLevel == "trusted" };
@id("d") forbid(principal, action, resource) when { principal has profile && principal.profile == "p2" && context.anomalyScore.greaterThan(decimal("0.5")) };
@id("e") permit(principal == Agent::"bob", action == Action::"http.fetch", resource == Host::"api.example.com");
@id("f") permit(principal in Profile::"p2", action in [Action::"system.time", Action::"memory.read"], resource) when { context.hour < 12 };
@id("g") forbid(principal, action, resource) when { (if context.door == "http" then principal.trustLevel else "none") == "restricted" || principal == Agent::"mallory" };
@id("h") permit(principal, action == Action::"exec.run", resource) when { context.args has argv && context.args.argv.contains("--safe") && action in Action::"exec.*" };
@id("i") permit(principal in Role::"ops", action == Action::"agent.message", resource) when { principal.capabilities.containsAny(["msg", "all"]) };
@id("j") forbid(principal in Profile::"p1", action, resource == File::"/data/secret") ;
@id("k") permit(principal, action == Action::"secret.use", resource is Secret) when { principal in Profile::"p1" && context has host && context.host like "*.example.com" };
`;

function bare(setId: string, f: RequestFacts) {
  const p = f.req.principal;
  const context: Record<string, unknown> = {};
  for (const a of Object.keys(CONTEXT_ATTRIBUTES)) {
    const v = f.contextValue(a, []);
    if (v !== undefined) context[a] = v;
  }
  const r = f.resource;
  return cedar.statefulIsAuthorized({
    principal: f.principal.uid,
    action: f.action.uid,
    resource: r.uid,
    context: context as never,
    preparsedPolicySetId: setId,
    entities: [
      { uid: f.principal.uid, attrs: f.principalAttrs() as never, parents: f.principalParents() },
      { uid: r.uid, attrs: r.attrs as never, parents: [] },
      { uid: f.action.uid, attrs: {}, parents: f.actionGroups.map((id) => ({ type: 'Action', id })) },
    ],
  });
}

test('slicing and request minimization never change a decision (differential against bare Cedar, 3,000 requests)', () => {
  const { pdp } = pdpFor({}, { 'all.cedar': POLICIES });
  assert.equal(cedar.preparsePolicySet('differential', { staticPolicies: POLICIES }).type, 'success');
  let seed = 3;
  const r = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const principals = [
    run('p1'), run('p2'), run('p3'),
    agent('bob'), agent('mallory'), agent('eve', { trustLevel: 'restricted' }), agent('alice', { roles: ['admin'], trustLevel: 'trusted' }), agent('alice', { roles: ['admin'] }),
    agent('ops1', { roles: ['ops'], capabilities: ['msg'] }), agent('ops2', { roles: ['ops', 'admin'], capabilities: [], profile: 'p1' }), agent('x', { profile: 'p2' }),
  ];
  const tools = ['fs.read', 'fs.write', 'fs.list', 'http.fetch', 'exec.run', 'system.time', 'memory.read', 'agent.message', 'secret.use', 'model.chat'];
  const argsFor = (tool: string) => {
    switch (r(8)) {
      case 0: return { path: ['/data/a', '/data/x.lock', '/data/secret', '/etc/x', 'rel'][r(5)] };
      case 1: return { url: ['https://api.example.com/x', 'https://evil.test/', 'nope'][r(3)] };
      case 2: return { argv: [['ls', '--safe'], ['ls'], ['--safe']][r(3)] };
      case 3: return { secret: 'k', host: ['a.example.com', 'evil.test'][r(2)] };
      case 4: return tool.startsWith('fs.') ? { path: '/data/secret' } : {};
      default: return {};
    }
  };
  let allows = 0;
  for (let i = 0; i < 3000; i++) {
    const principal = principals[r(principals.length)]!;
    const tool = tools[r(tools.length)]!;
    const request: ActionRequest = req({ ...principal, door: r(2) ? 'http' : 'run' }, tool, argsFor(tool));
    const c = ctx({ anomalyScore: r(10) / 10, time: `2026-03-04T${String(r(24)).padStart(2, '0')}:00:00.000Z` });
    const d = pdp.decide(request, c);
    const b = bare('differential', new RequestFacts(request, c));
    assert.equal(b.type, 'success');
    if (b.type !== 'success') continue;
    assert.equal(d.effect, b.response.decision, `${JSON.stringify(request)} ${JSON.stringify(c)}: PDP ${JSON.stringify(d)} vs Cedar ${JSON.stringify(b.response)}`);
    if (d.effect === 'allow') {
      allows++;
      assert.deepEqual([...d.policies].sort(), b.response.diagnostics.reason.map((k) => String.fromCharCode(97 + Number(k.replace('policy', '')))).sort(), 'the same determining policies');
    }
  }
  assert.ok(allows > 100 && allows < 2900, `a mix of decisions (${allows} allows)`);
});
