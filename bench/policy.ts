/**
 * Policy benchmarks (issue 4): decisions per second and p50/p99 µs through the PDP for 10, 100 and
 * 1,000 policies, cached and uncached, each beside bare stateful Cedar (@cedar-policy/cedar-wasm
 * statefulIsAuthorized) deciding the same requests against the same policies in the same run.
 * Targets: uncached p50 <= 40 µs at 1,000 policies, cached p50 <= 3 µs, within 1.3x of bare Cedar.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { parseConfig } from '../src/config/index.js';
import type { ActionRequest, DecisionContext, Principal } from '../src/pipeline/index.js';
import { CedarDecisionPoint } from '../src/policy/index.js';
import { type BenchRow, type BenchSection, summarize } from './harness.js';

const TOOLS = ['fs.read', 'fs.write', 'fs.list', 'http.fetch', 'exec.run', 'system.time', 'memory.read', 'agent.message'];
/** About ten policies per agent profile, as a deployment with many agents would have. */
const profilesFor = (n: number) => Math.max(1, Math.floor(n / 10));

/** N local policies in the shapes operators write: per profile and tool, argument-aware, plus org-wide guards. */
function policiesText(n: number): string {
  const out: string[] = [
    '@id("guard-keys") forbid(principal, action in Action::"fs.*", resource) when { context has path && context.path like "*.pem" };',
    '@id("guard-shell") forbid(principal, action == Action::"exec.run", resource == Command::"/bin/sh");',
    '@id("guard-anomaly") forbid(principal, action, resource) when { context.anomalyScore.greaterThan(decimal("0.8")) };',
  ];
  const profiles = profilesFor(n);
  for (let i = out.length; i < n; i++) {
    const p = `p${i % profiles}`;
    const tool = TOOLS[i % TOOLS.length]!;
    if (tool.startsWith('fs.')) out.push(`@id("fs-${i}") permit(principal in Profile::"${p}", action == Action::"${tool}", resource) when { context has path && context.path like "/data/${p}/${i}/*" };`);
    else if (tool === 'http.fetch') out.push(`@id("http-${i}") permit(principal in Profile::"${p}", action == Action::"http.fetch", resource) when { context has host && context.host == "api${i}.example.com" };`);
    else if (tool === 'exec.run') out.push(`@id("exec-${i}") permit(principal in Profile::"${p}", action == Action::"exec.run", resource == Command::"tool${i}");`);
    else out.push(`@id("tool-${i}") permit(principal in Profile::"${p}", action == Action::"${tool}", resource) when { principal.trustLevel != "restricted" };`);
  }
  return out.join('\n');
}

/** 200 requests over the profiles and tools: most match a policy, some do not. */
function requests(n: number): ActionRequest[] {
  const out: ActionRequest[] = [];
  const profiles = profilesFor(n);
  for (let k = 0; k < 200; k++) {
    const i = 3 + ((k * 7919) % Math.max(1, n - 3));
    const p = `p${i % profiles}`;
    const tool = TOOLS[i % TOOLS.length]!;
    const principal: Principal = { kind: 'run', agentId: `run:${k}`, runId: `${k}`, profile: p, trustLevel: 'limited', capabilities: [], isolation: 'thread', door: 'run' };
    const hit = k % 5 !== 0;
    const args = tool.startsWith('fs.') ? { path: `/data/${p}/${hit ? i : 'x'}/f${k}.txt` } : tool === 'http.fetch' ? { url: `https://api${hit ? i : 'x'}.example.com/v1` } : tool === 'exec.run' ? { argv: [`tool${hit ? i : 'x'}`] } : {};
    out.push({ principal, tool, args });
  }
  return out;
}

const CTX: DecisionContext = { time: '2026-03-04T10:00:00.000Z', anomalyScore: 0.05 };

/** The request as bare Cedar sees it: every entity and every context attribute the schema defines. */
function bareCall(setId: string, r: ActionRequest): cedar.StatefulAuthorizationCall {
  const p = r.principal;
  const a = (r.args ?? {}) as Record<string, unknown>;
  const path = typeof a.path === 'string' ? a.path : undefined;
  const host = typeof a.url === 'string' ? new URL(a.url).hostname : undefined;
  const cmd = Array.isArray(a.argv) ? String(a.argv[0]) : undefined;
  const resource = path ? { type: 'File', id: path } : host ? { type: 'Host', id: host } : cmd ? { type: 'Command', id: cmd } : { type: 'Tool', id: r.tool };
  const groups = r.tool.includes('.') ? [{ type: 'Action', id: `${r.tool.split('.')[0]}.*` }, { type: 'Action', id: '*' }] : [{ type: 'Action', id: '*' }];
  return {
    principal: { type: 'Run', id: p.runId! },
    action: { type: 'Action', id: r.tool },
    resource,
    preparsedPolicySetId: setId,
    entities: [
      { uid: { type: 'Run', id: p.runId! }, attrs: { trustLevel: p.trustLevel, capabilities: [], profile: p.profile! }, parents: [{ type: 'Profile', id: p.profile! }] },
      { uid: resource, attrs: path ? { path } : host ? { host } : { name: resource.id }, parents: [] },
      { uid: { type: 'Action', id: r.tool }, attrs: {}, parents: groups },
    ],
    context: {
      time: { __extn: { fn: 'datetime', arg: CTX.time } },
      hour: 10,
      weekday: 3,
      anomalyScore: { __extn: { fn: 'decimal', arg: '0.0500' } },
      isolation: 'thread',
      door: 'run',
      args: { ...(path ? { path } : {}) },
      argsJson: JSON.stringify(a),
      ...(path ? { path } : {}),
      ...(host ? { host } : {}),
      ...(cmd ? { command: cmd } : {}),
      matchedGlobs: [],
    },
  };
}

function timeEach<T>(items: T[], rounds: number, fn: (x: T) => unknown): number[] {
  for (const x of items) fn(x);
  const out: number[] = [];
  for (let r = 0; r < rounds; r++)
    for (const x of items) {
      const t0 = process.hrtime.bigint();
      fn(x);
      out.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  return out;
}

export async function run(): Promise<BenchSection> {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'cg-bench-policy-'));
  try {
    const floorId = 'bench-floor';
    cedar.preparsePolicySet(floorId, { staticPolicies: '' });
    const floor = summarize(timeEach([0], 3000, () => cedar.statefulIsAuthorized({ principal: { type: 'Run', id: 'r' }, action: { type: 'Action', id: 'x' }, resource: { type: 'Tool', id: 'x' }, context: {}, entities: [], preparsedPolicySetId: floorId })));
    notes.push(`One bare cedar-wasm call with an empty policy set and an empty request costs p50 ${floor.p50.toFixed(1)} µs here: the floor under any Cedar decision on this machine.`);
    for (const n of [10, 100, 1000]) {
      const state = join(dir, `n${n}`);
      mkdirSync(join(state, 'policies'), { recursive: true });
      const text = policiesText(n);
      writeFileSync(join(state, 'policies', 'bench.cedar'), text);
      const config = parseConfig({ agents: Object.fromEntries(Array.from({ length: profilesFor(n) }, (_, i) => [`p${i}`, {}])) });
      const uncached = new CedarDecisionPoint({ config, stateDir: state, cacheSize: 0 });
      const cached = new CedarDecisionPoint({ config, stateDir: state });
      for (const pdp of [uncached, cached]) if (!pdp.load().ok) throw new Error(`bench policies did not load: ${JSON.stringify(pdp.status())}`);
      const reqs = requests(n);
      const setId = `bench-bare-${n}`;
      const parsed = cedar.preparsePolicySet(setId, { staticPolicies: text });
      if (parsed.type !== 'success') throw new Error('bare cedar could not parse the bench policies');
      const bareCalls = reqs.map((r) => bareCall(setId, r));
      // agreement check: the PDP and bare Cedar decide the same
      let agree = 0;
      for (let i = 0; i < reqs.length; i++) {
        const b = cedar.statefulIsAuthorized(bareCalls[i]!);
        const d = uncached.decide(reqs[i]!, CTX);
        if (b.type === 'success' && (b.response.decision === 'allow') === (d.effect === 'allow')) agree++;
      }
      const rounds = n >= 1000 ? 3 : 10;
      // interleave so both see the same machine load
      const pdpU: number[] = [];
      const bare: number[] = [];
      for (let k = 0; k < rounds; k++) {
        pdpU.push(...timeEach(reqs, 1, (r) => uncached.decide(r, CTX)));
        bare.push(...timeEach(bareCalls, 1, (c) => cedar.statefulIsAuthorized(c)));
      }
      const pdpC: number[] = [];
      for (let k = 0; k < 10; k++) pdpC.push(...timeEach(reqs, 2, (r) => cached.decide(r, CTX)));
      const u = summarize(pdpU);
      const b = summarize(bare);
      const c = summarize(pdpC);
      rows.push(
        { name: `${n} policies: PDP uncached p50`, value: u.p50, unit: 'µs', baselineName: 'bare stateful Cedar p50', baselineValue: b.p50, ...(n === 1000 ? { target: '<= 40 µs, <= 1.3x bare', met: u.p50 <= 40 && u.p50 <= 1.3 * b.p50 } : { target: '<= 1.3x bare', met: u.p50 <= 1.3 * b.p50 }) },
        { name: `${n} policies: PDP uncached p99`, value: u.p99, unit: 'µs', baselineName: 'bare stateful Cedar p99', baselineValue: b.p99 },
        { name: `${n} policies: PDP uncached decisions/s`, value: 1e6 / u.mean, unit: '/s', baselineName: 'bare stateful Cedar', baselineValue: 1e6 / b.mean },
        { name: `${n} policies: PDP cached p50`, value: c.p50, unit: 'µs', baselineName: 'bare stateful Cedar p50', baselineValue: b.p50, target: '<= 3 µs', met: c.p50 <= 3 },
        { name: `${n} policies: PDP cached p99`, value: c.p99, unit: 'µs', baselineName: 'bare stateful Cedar p99', baselineValue: b.p99 },
        { name: `${n} policies: PDP cached decisions/s`, value: 1e6 / c.mean, unit: '/s', baselineName: 'bare stateful Cedar', baselineValue: 1e6 / b.mean },
      );
      notes.push(`${n} policies: the PDP and bare Cedar agreed on ${agree} of ${reqs.length} requests (allow/deny).`);
    }
    notes.push(
      'Bare Cedar evaluates every policy of the set against the full request (all entities, the whole context); the PDP hands Cedar only the policies whose scope can match (decided statically, exactly as Cedar would) and only the entities and context attributes those policies read, in one call per decision, and caches decisions keyed on exactly those inputs.',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { title: 'Policy decision point (Cedar)', rows, notes };
}
