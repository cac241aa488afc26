/**
 * One enum of doors: every value of DOORS reaches Cedar as `context.door` unchanged (a local
 * policy keyed on each door matches exactly that door), explain refuses a door that is not one,
 * and the doors written into audit records by a real gateway (a run's tool call, an agent-API
 * refusal, an operator-API refusal) are all values of the enum.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { readEvents } from '../../src/audit/index.js';
import { type Door, DOORS } from '../../src/pipeline/index.js';
import { explainInput } from '../../src/policy/index.js';
import { startGateway, type TestGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { ZERO_TRUST } from '../identity/helpers.js';

let g: TestGateway;

before(async () => {
  const agents = tempDir('cg-doors-');
  const entry = writeAgent(agents, 'time.mjs', 'export default async (input, { tools }) => (await tools.call("system.time", {})) && "ok";');
  g = await startGateway({ agents: { clock: { entry, tools: { allow: ['system.time'] }, warmPool: 0 } }, ...ZERO_TRUST() });
  // One forbid per door, each naming its door: the explain below shows which one matched.
  const policies = DOORS.map((d) => `@id("door-${d}") forbid(principal, action == Action::"system.time", resource) when { context.door == "${d}" };`).join('\n');
  writeFileSync(join(g.dir, 'state', 'policies', 'doors.cedar'), policies);
  const reload = await g.call('POST', '/v1/policy/reload');
  assert.equal(reload.status, 200, reload.text);
});
after(async () => g?.close());

test('DOORS is the list of doors, without duplicates', () => {
  assert.deepEqual([...DOORS], ['run', 'http', 'mcp', 'plugin', 'cli', 'operator']);
  assert.equal(new Set(DOORS).size, DOORS.length);
  const typed: Door[] = [...DOORS];
  // @ts-expect-error: "agent" is not a door (agent-API refusals say "http")
  typed.push('agent');
});

test('every door reaches Cedar as context.door, unchanged: exactly its own policy matches', async () => {
  for (const door of DOORS) {
    for (const kind of ['run', 'agent'] as const) {
      const r = await g.call('POST', '/v1/policy/explain', { agent: kind === 'run' ? 'clock' : 'someone', action: 'system.time', principal: { kind, door } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.decision, 'deny', `${kind} ${door}`);
      assert.deepEqual(r.json.policies, [`door-${door}`], `${kind} ${door}: ${JSON.stringify(r.json)}`);
    }
  }
});

test('explain refuses a door that is not one of DOORS', async () => {
  for (const door of ['agent', 'HTTP', '', 'run ', 'constructor', 42, null]) {
    assert.equal(explainInput.safeParse({ agent: 'a', action: 'x', principal: { door } }).success, false, JSON.stringify(door));
    const r = await g.call('POST', '/v1/policy/explain', { agent: 'clock', action: 'system.time', principal: { door } });
    assert.equal(r.status, 400, `${JSON.stringify(door)}: ${r.text}`);
    assert.equal(r.json.error.code, 'bad_request');
  }
  for (const door of DOORS) assert.equal(explainInput.safeParse({ agent: 'a', action: 'x', principal: { door } }).success, true, door);
});

test('doors written by the gateway are values of DOORS: a run, an agent-API refusal, an operator-API refusal', async () => {
  const run = await g.call('POST', '/v1/runs?wait=1', { profile: 'clock' });
  assert.equal(run.status, 200, run.text);
  const unsigned = await request(`${g.url}/v1/tools/system.time`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(unsigned.statusCode, 401);
  await unsigned.body.dump();
  const noToken = await request(`${g.url}/v1/runs`, { method: 'GET' });
  assert.equal(noToken.statusCode, 401);
  await noToken.body.dump();
  await g.gw.rejections.flush();
  const decision = readEvents(g.gw.store.db, { type: 'tool.decision' }).find((e) => e.runId === run.json.runId);
  assert.equal(decision?.payload?.door, 'run', 'the run door, denied by door-run');
  const refusals = readEvents(g.gw.store.db, { type: 'request.rejected' });
  const doors = new Set(refusals.map((e) => e.payload?.door));
  assert.ok(doors.has('http'), `agent-API refusal: ${[...doors]}`);
  assert.ok(doors.has('operator'), `operator-API refusal: ${[...doors]}`);
  for (const d of doors) assert.ok((DOORS as readonly unknown[]).includes(d), String(d));
  const h = await g.call('GET', '/healthz');
  assert.equal(h.status, 200);
});
