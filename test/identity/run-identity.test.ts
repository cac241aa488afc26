import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import type { Principal } from '../../src/pipeline/index.js';
import { startGateway, tempDir, waitFor, type TestGateway, writeAgent } from '../helpers/gateway.js';

const dir = tempDir('cg-runid-');
// Stays alive (yielding through tool calls) until told to stop through its input deadline.
const lingering = writeAgent(dir, 'linger.js', `export default async function (input, ctx) {
  const t0 = Date.now();
  let calls = 0;
  while (Date.now() - t0 < input.ms) { await ctx.tools.call('system.time', {}); calls++; }
  return { calls };
}`);

let g: TestGateway;
const issued: Principal[] = [];
before(async () => {
  g = await startGateway({ agents: { linger: { entry: lingering, tools: { allow: ['system.time'] }, trustLevel: 'limited', capabilities: ['clock'], warmPool: 0 } } });
  const runs = g.gw.identity.runs;
  const issue = runs.issue.bind(runs);
  runs.issue = (p: Principal) => {
    issued.push(structuredClone(p));
    issue(p);
  };
});
after(async () => g?.close());

const callWith = async (token: string) => {
  const r = await request(`${g.url}/v1/tools/system.time`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
  return { status: r.statusCode, json: (await r.body.json()) as any };
};

test('each run gets an ephemeral identity bound to its runId and profile, destroyed with the run; copies are refused', async () => {
  const sub = await g.call('POST', '/v1/runs', { profile: 'linger', input: { ms: 1500 } });
  assert.equal(sub.status, 202);
  const runId = sub.json.runId as string;
  await waitFor(() => issued.some((p) => p.runId === runId));
  const principal = issued.find((p) => p.runId === runId)!;
  assert.equal(principal.agentId, `run:${runId}`);
  assert.equal(principal.profile, 'linger');
  assert.equal(principal.trustLevel, 'limited');
  assert.deepEqual(principal.capabilities, ['clock']);

  // While the run lives, its credential works (as a principal, and as a bearer token over HTTP).
  const token = await g.gw.identity.runs.token(runId);
  const during = await callWith(token);
  assert.equal(during.status, 200, JSON.stringify(during.json));
  assert.equal((await g.gw.pipeline.callTool({ principal, tool: 'system.time', args: {} })).ok, true);
  // Never more than the profile: a principal claiming more is refused even while the run lives.
  const more = await g.gw.pipeline.callTool({ principal: { ...principal, capabilities: ['clock', 'root'] }, tool: 'system.time', args: {} });
  assert.equal(more.ok, false);
  const higher = await g.gw.pipeline.callTool({ principal: { ...principal, trustLevel: 'trusted' }, tool: 'system.time', args: {} });
  assert.equal(higher.ok, false);
  const forged = await g.gw.pipeline.callTool({ principal: { ...principal, runId: '01890000-0000-7000-8000-000000000000', agentId: 'run:01890000-0000-7000-8000-000000000000' }, tool: 'system.time', args: {} });
  assert.equal(forged.ok, false, 'no credential was issued for that run');

  const done = await g.call('GET', `/v1/runs/${runId}`);
  await waitFor(async () => (await g.call('GET', `/v1/runs/${runId}`)).json.state === 'succeeded', 15_000);
  void done;
  assert.ok((await g.call('GET', `/v1/runs/${runId}`)).json.output.calls > 0);

  // The run is over: its credential was destroyed with it.
  const copied = await callWith(token);
  assert.equal(copied.status, 401);
  assert.equal(copied.json.error.code, 'identity_revoked');
  const replayed = await g.gw.pipeline.callTool({ principal, tool: 'system.time', args: {} });
  assert.equal(replayed.ok, false);
  if (!replayed.ok) assert.equal(replayed.error.code, 'identity_revoked');
  // the refused call is in the audit log, as a rejection of that run's principal
  const rejected = (await g.call('GET', `/v1/audit/events?runId=${runId}&type=tool.rejected`)).json.events;
  assert.ok(rejected.length >= 1, 'a refused call leaves an audit event');
  assert.equal(rejected.at(-1).decision, 'deny');
  assert.equal(rejected.at(-1).action, 'system.time');
  await assert.rejects(() => g.gw.identity.runs.token(runId), { code: 'identity_revoked' });
  assert.equal(g.gw.identity.runs.activeCount, 0);
});

test('a run token is refused where signatures are required, and is not an operator token', async () => {
  const sub = await g.call('POST', '/v1/runs', { profile: 'linger', input: { ms: 600 } });
  const runId = sub.json.runId as string;
  await waitFor(() => issued.some((p) => p.runId === runId));
  const token = await g.gw.identity.runs.token(runId);
  const op = await request(`${g.url}/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(op.statusCode, 401);
  await op.body.dump();
  const session = await request(`${g.url}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(session.statusCode, 401);
  assert.equal(((await session.body.json()) as any).error.code, 'signature_required');
  await waitFor(async () => (await g.call('GET', `/v1/runs/${runId}`)).json.state === 'succeeded', 15_000);
});
