/**
 * The audit log and the PDP in a real gateway, over real HTTP: one audit event per tool call and
 * per rejected request, telemetry, metrics, status, policy reload, and fail-closed audit.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
// The same SQLite build as the gateway's (two copies in one process do not see each other's locks).
import { SqliteDatabase as Database } from '../../src/store/index.js';
import { request } from 'undici';
import { loadPublicKey, readEvents, verifyAuditLog } from '../../src/audit/index.js';
import { createAgentClient, generateEd25519, privateKeyPem, publicKeyPem } from '../../src/identity/index.js';
import { startGateway, type TestGateway, tempDir, waitFor, writeAgent } from '../helpers/gateway.js';

const dir = tempDir('cg-audit-gw-');
const agents = {
  calls: writeAgent(dir, 'calls.js', `export default async function (input, ctx) {
    const out = [];
    for (const [tool, args] of input.calls) { const r = await ctx.tools.call(tool, args); out.push(r.ok ? 'ok' : r.error.code); }
    return out;
  }`),
  gated: writeAgent(dir, 'gated.js', `export default async function (input, ctx) {
    await ctx.tools.call('test.gate', {});
    return await ctx.tools.call('test.touch', {});
  }`),
};
const telemetryFile = join(dir, 'telemetry.jsonl');

let g: TestGateway;
let touched = 0;
let gateReached = false;
let openGate: () => void = () => undefined;

before(async () => {
  g = await startGateway({
    gateway: { bodyLimitBytes: 4096 },
    agents: {
      calls: { entry: agents.calls, warmPool: 0, tools: { allow: ['system.time', 'test.touch', { tool: 'fs.read', paths: ['/nonexistent/**'] }], deny: [{ tool: 'test.touch', paths: ['/never/**'] }] } },
      gated: { entry: agents.gated, warmPool: 0, tools: { allow: ['test.gate', 'test.touch'] } },
      door: { warmPool: 0, tools: { allow: ['system.time', 'test.touch'] } },
    },
    monitoring: { telemetry: { exportFormat: 'JSON-Lines', captureAllRequests: true, output: telemetryFile } },
    security: { zeroTrust: { enabled: true, policies: { externalAPI: { rateLimit: true } }, rateLimit: { requestsPerSecond: 0.5, burst: 2 } } },
  }, { extraTools: ['test.touch', 'test.gate'] });
  g.gw.tools.register({ name: 'test.touch', description: 'counts executions (test)', args: { safeParse: (v: unknown) => ({ success: true, data: v }) } as never, execute: async () => ++touched });
  g.gw.tools.register({
    name: 'test.gate',
    description: 'waits for the test (test)',
    args: { safeParse: (v: unknown) => ({ success: true, data: v }) } as never,
    execute: () => {
      gateReached = true;
      return new Promise((resolve) => (openGate = () => resolve('open')));
    },
  });
});
after(async () => g?.close());

const db = () => g.gw.auditLog.database!;
const lastSeq = () => (g.gw.auditLog.status() as { lastSeq: number }).lastSeq;
const eventsAfter = (seq: number) => readEvents(db(), { afterSeq: seq });

test('every tool call leaves exactly one decision (allowed, denied by config, unknown tool), an allowed one its outcome tied to it, plus run start and end', async () => {
  const calls = [['system.time', {}], ['test.touch', {}], ['exec.run', { argv: ['/bin/true'] }], ['no.such.tool', {}], ['fs.read', { path: '/etc/passwd' }], ['system.time', {}]];
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'calls', input: { calls } });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  assert.deepEqual(r.json.output, ['ok', 'ok', 'denied', 'tool_not_found', 'denied', 'ok']);
  await waitFor(() => readEvents(db(), { runId: r.json.runId }).some((e) => e.type === 'run.end'));
  const events = readEvents(db(), { runId: r.json.runId });
  const allowed = [true, true, false, false, false, true];
  assert.deepEqual(events.map((e) => e.type), ['run.start', ...allowed.flatMap((a) => (a ? ['tool.decision', 'tool.result'] : ['tool.decision'])), 'run.end']);
  const decisions = events.filter((e) => e.type === 'tool.decision');
  const results = events.filter((e) => e.type === 'tool.result');
  assert.deepEqual(results.map((e) => [e.action, e.payload!.ok, e.payload!.decisionSeq]), decisions.filter((_, i) => allowed[i]).map((d) => [d.action, true, d.seq]));
  assert.deepEqual(decisions.map((e) => [e.action, e.decision, e.tier]), [
    ['system.time', 'allow', 'config'],
    ['test.touch', 'allow', 'config'],
    ['exec.run', 'deny', 'default'],
    ['no.such.tool', 'deny', 'default'],
    ['fs.read', 'deny', 'default'],
    ['system.time', 'allow', 'config'],
  ]);
  assert.deepEqual(decisions[1]!.policies, ['config:calls:allow:1']);
  // A path the guard refuses is decided on as written (made absolute), and what the agent wrote is kept.
  assert.deepEqual(decisions[4]!.payload!.args, { path: '/etc/passwd', requested: '/etc/passwd' });
  assert.equal(decisions[0]!.subject, 'calls');
});

test('every rejected request leaves exactly one audit event: unauthenticated, malformed, too large, unknown route, bad id, unknown profile, rate-limited', async () => {
  const url = g.url;
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) => request(url + path, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) }).then(async (r) => ({ status: r.statusCode, text: await r.body.text() }));
  const auth = { authorization: `Bearer ${g.token}` };
  const cases: Array<[string, () => Promise<{ status: number }>, number]> = [
    ['no token', () => send('GET', '/v1/status', {}), 401],
    ['wrong token', () => send('GET', '/v1/status', { authorization: 'Bearer nope' }), 401],
    ['unsigned agent call', () => send('POST', '/v1/tools/system.time', { 'content-type': 'application/json' }, '{}'), 401],
    ['malformed JSON', () => send('POST', '/v1/runs', { ...auth, 'content-type': 'application/json' }, '{"profile": '), 400],
    ['body too large', () => send('POST', '/v1/runs', { ...auth, 'content-type': 'application/json' }, JSON.stringify({ profile: 'calls', input: 'x'.repeat(10_000) })), 413],
    ['unknown route', () => send('GET', '/v1/nothing-here?token=secret', auth), 404],
    ['bad run id', () => send('GET', '/v1/runs/not-a-uuid', auth), 400],
    ['unknown profile', () => send('POST', '/v1/runs', { ...auth, 'content-type': 'application/json' }, '{"profile":"ghost"}'), 404],
    ['unknown key', () => send('POST', '/v1/audit/verify', auth), 404],
  ];
  // Rejections of unauthenticated requests are aggregated per source and window (a burst is one
  // event with a count, see test/server/floods.test.ts); each request here is alone in its window.
  for (const [name, go, status] of cases) {
    const before = lastSeq();
    const r = await go();
    assert.equal(r.status, status, name);
    await g.gw.rejections.flush();
    const events = eventsAfter(before);
    assert.equal(events.length, 1, `${name}: ${JSON.stringify(events.map((e) => e.type))}`);
    assert.equal(events[0]!.decision, 'deny', name);
    assert.ok(!JSON.stringify(events[0]).includes('token=secret'), 'query strings are not recorded');
  }
  // rate-limited signed agent calls: the refusal is audited once, by the identity module
  const { privateKey, publicKey } = generateEd25519();
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'fast-bot', publicKey: publicKeyPem(publicKey), profile: 'door' })).status, 201);
  const client = createAgentClient({ gatewayUrl: url, agentId: 'fast-bot', privateKey: privateKeyPem(privateKey) });
  let limited = 0;
  for (let i = 0; i < 5; i++) {
    const before = lastSeq();
    const r = await client.callTool('system.time', {});
    await g.gw.rejections.flush();
    // the outcome of an allowed call follows as its own event; the request itself is recorded once
    assert.equal(eventsAfter(before).filter((e) => e.type !== 'tool.result').length, 1, `call ${i} (${r.status})`);
    if (r.status === 429) limited++;
  }
  await client.close();
  assert.ok(limited > 0, 'some calls were rate-limited');
});

test('a tool call denied at the HTTP door is audited once, by the pipeline', async () => {
  const { privateKey, publicKey } = generateEd25519();
  await g.call('POST', '/v1/agents', { agentId: 'door-bot', publicKey: publicKeyPem(publicKey), profile: 'door' });
  const client = createAgentClient({ gatewayUrl: g.url, agentId: 'door-bot', privateKey: privateKeyPem(privateKey) });
  const before = lastSeq();
  const r = await client.callTool('exec.run', { argv: ['/bin/true'] });
  assert.equal(r.status, 403);
  const events = eventsAfter(before);
  assert.deepEqual(events.map((e) => [e.type, e.agentId, e.decision]), [['tool.decision', 'door-bot', 'deny']]);
  await client.close();
});

test('telemetry streams committed events as JSON Lines; metrics and status show policy and audit', async () => {
  await waitFor(() => readFileSync(telemetryFile, 'utf8').split('\n').length > 5);
  const lines = readFileSync(telemetryFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const seqs = lines.map((l) => l.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.ok(lines.some((l) => l.type === 'tool.decision' && l.payload?.args));
  const metrics = (await g.call('GET', '/metrics')).text;
  for (const m of ['clawguard_policy_decisions_total{effect="allow",tier="config"}', 'clawguard_policy_decision_seconds_bucket', 'clawguard_audit_events_total{type="tool.decision"}', 'clawguard_audit_write_failures_total']) assert.ok(metrics.includes(m), m);
  const s = (await g.call('GET', '/v1/status')).json;
  assert.equal(s.policy.ok, true);
  assert.equal(s.audit.ok, true);
  assert.equal(s.audit.telemetry.output, telemetryFile);
  const v = (await g.call('GET', '/v1/audit/verify')).json;
  assert.equal(v.ok, true, v.problem);
  const proof = await g.call('GET', `/v1/audit/proof/${lastSeq()}`);
  assert.equal(proof.status, 200, 'the gateway writes a checkpoint on demand');
});

test('local policies: SIGHUP reloads them; an invalid file is refused over the API and the old set stays', async () => {
  const policies = join(g.dir, 'state', 'policies');
  writeFileSync(join(policies, 'ops.cedar'), '@id("no-touch") forbid(principal, action == Action::"test.touch", resource);');
  const reloaded = lastSeq();
  process.kill(process.pid, 'SIGHUP');
  await waitFor(() => eventsAfter(reloaded).some((e) => e.type === 'policy.reload'));
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'calls', input: { calls: [['test.touch', {}]] } });
  assert.deepEqual(r.json.output, ['denied']);
  writeFileSync(join(policies, 'broken.cedar'), 'permit(principal, action, resource');
  const bad = await g.call('POST', '/v1/policy/reload');
  assert.equal(bad.status, 422);
  assert.equal(bad.json.error.code, 'policy_invalid');
  assert.match(bad.json.error.message, /broken\.cedar/);
  assert.deepEqual((await g.call('POST', '/v1/runs?wait=1', { profile: 'calls', input: { calls: [['test.touch', {}]] } })).json.output, ['denied'], 'the previous set is still in force');
  const explain = await g.call('POST', '/v1/policy/explain', { agent: 'calls', action: 'test.touch' });
  assert.deepEqual(explain.json, { decision: 'deny', tier: 'local', policies: ['no-touch'], reasons: ['forbidden by local policy no-touch (ops.cedar:1)'] });
  writeFileSync(join(policies, 'broken.cedar'), '');
  writeFileSync(join(policies, 'ops.cedar'), '');
  assert.equal((await g.call('POST', '/v1/policy/reload')).status, 200);
});

test('when audit records cannot be written, every action is denied and none is executed; the chain stays intact', async () => {
  // An attacker or a full disk: here, a trigger that makes every audit insert fail (failure injection).
  const inject = new Database(join(g.dir, 'state', 'clawguard.db'));
  const breakAudit = () => inject.exec("CREATE TRIGGER IF NOT EXISTS test_audit_fails BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END;");
  const fixAudit = () => inject.exec('DROP TRIGGER IF EXISTS test_audit_fails');
  const failuresBefore = (g.gw.auditLog.status() as { writeFailures: number }).writeFailures;
  const touchedBefore = touched;
  try {
    breakAudit();
    // 1. a run cannot even start
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'calls', input: { calls: [['test.touch', {}]] } });
    assert.equal(r.json.state, 'rejected');
    assert.equal(r.json.error.code, 'audit_unavailable');
    // 2. an HTTP-door call is refused with 503
    const { privateKey, publicKey } = generateEd25519();
    fixAudit();
    await g.call('POST', '/v1/agents', { agentId: 'audit-bot', publicKey: publicKeyPem(publicKey), profile: 'door' });
    breakAudit();
    const client = createAgentClient({ gatewayUrl: g.url, agentId: 'audit-bot', privateKey: privateKeyPem(privateKey) });
    const d = await client.callTool('test.touch', {});
    assert.equal(d.status, 503);
    assert.equal(d.ok ? '' : d.error.code, 'audit_unavailable');
    await client.close();
    // 3. mid-run: the store breaks between two tool calls
    fixAudit();
    gateReached = false;
    const running = g.call('POST', '/v1/runs?wait=1', { profile: 'gated' });
    await waitFor(() => gateReached);
    breakAudit();
    openGate();
    const mid = await running;
    assert.equal(mid.json.output.ok, false);
    assert.equal(mid.json.output.error.code, 'audit_unavailable');
    assert.equal(touched, touchedBefore, 'nothing was executed without its audit record');
    const s = (await g.call('GET', '/v1/status')).json.audit;
    assert.equal(s.ok, false);
    assert.match(s.reason, /injected/);
    assert.ok(s.writeFailures >= failuresBefore + 3);
    assert.match((await g.call('GET', '/metrics')).text, /clawguard_audit_write_failures_total [1-9]/);
  } finally {
    fixAudit();
    inject.close();
  }
  const ok = await g.call('POST', '/v1/runs?wait=1', { profile: 'calls', input: { calls: [['test.touch', {}]] } });
  assert.deepEqual(ok.json.output, ['ok'], 'actions resume once the store is writable');
  g.gw.auditLog.checkpointNow();
  const v = verifyAuditLog(db(), { publicKey: loadPublicKey(join(g.dir, 'state'))! });
  assert.equal(v.ok, true, v.problem);
});
