import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { readEvents } from '../../src/audit/index.js';
import { createAgentClient } from '../../src/identity/index.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { craft, registerAgent, type TestAgent, TOOLS_PROFILE, ZERO_TRUST } from './helpers.js';

let g: TestGateway;
let alice: TestAgent;
let bob: TestAgent;
const logLines: any[] = [];
const TOOL = '/v1/tools/system.time';
const now = () => Math.floor(Date.now() / 1000);

let startedBefore = 0;
before(async () => {
  startedBefore = now();
  g = await startGateway({ agents: { tools: TOOLS_PROFILE }, ...ZERO_TRUST() }, { logLines });
  alice = await registerAgent(g, 'alice', { profile: 'tools', trustLevel: 'trusted', capabilities: ['time'] });
  bob = await registerAgent(g, 'bob', { profile: 'tools' });
});
after(async () => g?.close());

/**
 * The rejection was answered with its own code and recorded (audit event + structured log line).
 * Rejections of unauthenticated requests from one source are aggregated (the first of a window
 * at once, the rest as one event with a count when the window closes), so the window is closed
 * here and either form counts: the event itself, or an aggregate naming the claimed agent.
 */
async function assertRejected(r: { status: number; json: any }, code: string, agentId?: string) {
  assert.equal(r.status, 401, JSON.stringify(r.json));
  assert.equal(r.json.error.code, code, r.json.error.message);
  await g.gw.rejections.flush();
  const names = (one: unknown, many: unknown) => !agentId || one === agentId || (Array.isArray(many) && many.includes(agentId));
  const logged = logLines.filter((l) => l.event === 'request.rejected' && l.code === code && names(l.agentId, l.claimedAgentIds));
  assert.ok(logged.length > 0, `a structured log line for ${code}`);
  const audited = readEvents(g.gw.store.db, { type: 'request.rejected' }).filter((e) => e.payload?.code === code && names(e.agentId, e.payload?.claimedAgentIds));
  assert.ok(audited.length > 0, `a durable audit record for ${code}`);
}

test('replayed_nonce: a signature made before the gateway started is refused (its nonce may have been used on the previous instance)', async () => {
  // first in this file, so that the gateway started only seconds ago: well within the skew
  assert.ok(now() - startedBefore < 30, 'runs right after the gateway started');
  const old = await craft(g.url, alice, { path: TOOL, created: startedBefore - 1 });
  await assertRejected(old, 'replayed_nonce');
  assert.match(old.json.error.message, /before this gateway started/);
  assert.equal((await craft(g.url, alice, { path: TOOL })).status, 200, 'a fresh signature is accepted');
});

test('a correctly signed request goes through the pipeline; lastSeen is updated', async () => {
  const r = await craft(g.url, alice, { path: TOOL, body: '{}' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.ok, true);
  assert.equal(typeof r.json.result.unixMs, 'number');
  const shown = await g.call('GET', '/v1/agents/alice');
  assert.ok(shown.json.lastSeen, 'lastSeen set');
  assert.ok(Date.now() - Date.parse(shown.json.lastSeen) < 10_000);
  const decision = readEvents(g.gw.store.db, { type: 'tool.decision' }).find((e) => e.agentId === 'alice')!;
  assert.equal(decision.decision, 'allow');
  assert.equal(decision.payload?.door, 'http');
  const noBody = await craft(g.url, alice, { path: TOOL });
  assert.equal(noBody.status, 200, 'no body: no content-digest needed');
});

test('the client library signs every request', async () => {
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
  const r = await c.callTool('system.time', {});
  assert.equal(r.ok, true);
  assert.equal(r.status, 200);
  const denied = await c.callTool('exec.run', { argv: ['/bin/true'] });
  assert.equal(denied.ok, false);
  assert.equal(denied.status, 403);
  if (!denied.ok) assert.equal(denied.error.code, 'denied');
  const unknown = await c.callTool('no.such.tool', {});
  assert.equal(unknown.status, 404);
  await c.close();
});

test('many signed requests at once: every one is checked, a forged one in the crowd is refused', async () => {
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
  const crowd = await Promise.all([
    ...Array.from({ length: 40 }, () => c.callTool('system.time', {})),
    craft(g.url, alice, { path: TOOL, tamper: (h) => (h.signature = h.signature!.replace(/:([A-Za-z0-9+/])/, (_m, ch: string) => `:${ch === 'A' ? 'B' : 'A'}`)) }),
  ]);
  assert.ok(crowd.slice(0, 40).every((r) => (r as { ok: boolean }).ok));
  assert.equal((crowd.at(-1) as { status: number; json: { error: { code: string } } }).status, 401);
  assert.equal((crowd.at(-1) as { json: { error: { code: string } } }).json.error.code, 'bad_signature');
  assert.equal((await g.call('GET', '/v1/status')).json.identity.signatures.engine, 'libsodium');
  await c.close();
});

test('missing_signature: nothing signed', async () => {
  const r = await request(`${g.url}${TOOL}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  await assertRejected({ status: r.statusCode, json: await r.body.json() }, 'missing_signature');
});

test('malformed_signature: structured fields that do not parse (RFC 8941), wrong types, non-canonical base64', async () => {
  const cases: Array<(h: Record<string, string>) => void> = [
    (h) => (h['signature-input'] = h['signature-input']!.replace('(', '(((')),
    (h) => (h.signature = 'sig1=not-bytes'),
    (h) => (h.signature = h.signature!.replace('sig1=', 'other=')),
    (h) => (h['signature-input'] = h['signature-input']!.replace(/created=\d+/, 'created="soon"')),
    (h) => (h.signature = h.signature!.replace(/==:$/, ':')),
    (h) => (h['signature-input'] = 'sig1=?1'),
    (h) => (h['signature-input'] = h['signature-input']!.replace(/nonce="[^"]*"/, `nonce="${'n'.repeat(300)}"`)),
    (h) => (h.signature = `${h.signature}, sig1=:AAAA:`),
  ];
  for (const tamper of cases) await assertRejected(await craft(g.url, alice, { path: TOOL, body: '{}', tamper }), 'malformed_signature');
});

test('unsupported_algorithm: alg other than ed25519', async () => {
  await assertRejected(await craft(g.url, alice, { path: TOOL, params: [['created', now()], ['nonce', 'n-alg'], ['alg', 'rsa-pss-sha512'], ['keyid', 'alice']] }), 'unsupported_algorithm');
});

test('unknown_key: keyid names no registered agent', async () => {
  await assertRejected(await craft(g.url, alice, { path: TOOL, keyid: 'mallory' }), 'unknown_key', 'mallory');
});

test('bad_signature: signed by another key, or a covered part changed in transit', async () => {
  await assertRejected(await craft(g.url, bob, { path: TOOL, keyid: 'alice' }), 'bad_signature', 'alice');
  await assertRejected(await craft(g.url, alice, { path: TOOL, tamper: (h) => (h.signature = h.signature!.replace(/:(.)/, (_m, c: string) => `:${c === 'A' ? 'B' : 'A'}`)) }), 'bad_signature');
  await assertRejected(await craft(g.url, alice, { path: TOOL, body: '{}', tamper: (h) => (h['content-type'] = 'application/json; charset=utf-8') }), 'bad_signature');
  await assertRejected(await craft(g.url, alice, { path: TOOL, extraHeaders: { 'x-request-id': 'a' }, components: ['@method', '@target-uri', 'x-request-id'], tamper: (h) => (h['x-request-id'] = 'b') }), 'bad_signature');
});

test('missing_component: required components and parameters', async () => {
  await assertRejected(await craft(g.url, alice, { path: TOOL, components: ['@target-uri'] }), 'missing_component');
  await assertRejected(await craft(g.url, alice, { path: TOOL, components: ['@method', '@path'] }), 'missing_component');
  await assertRejected(await craft(g.url, alice, { path: TOOL, body: '{}', components: ['@method', '@target-uri'] }), 'missing_component');
  await assertRejected(await craft(g.url, alice, { path: TOOL, params: [['created', now()], ['keyid', 'alice']] }), 'missing_component');
  await assertRejected(await craft(g.url, alice, { path: TOOL, params: [['nonce', 'n-nocreated'], ['keyid', 'alice']] }), 'missing_component');
  await assertRejected(await craft(g.url, alice, { path: TOOL, params: [['created', now()], ['nonce', 'n-nokeyid']] }), 'missing_component');
  await assertRejected(await craft(g.url, alice, { path: TOOL, extraHeaders: { 'x-covered': '1' }, components: ['@method', '@target-uri', 'x-covered'], tamper: (h) => delete h['x-covered'] }), 'missing_component');
  const ok = await craft(g.url, alice, { path: `${TOOL}?a=1`, components: ['@method', '@authority', '@path', '@query'] });
  assert.equal(ok.status, 200, '@authority + @path + @query is an accepted alternative to @target-uri');
});

test('digest_mismatch: the body is not the one the digest (and signature) covers', async () => {
  await assertRejected(await craft(g.url, alice, { path: TOOL, body: '{}', sendBody: '{ }' }), 'digest_mismatch', 'alice');
});

test('clock_skew: created too old or in the future', async () => {
  await assertRejected(await craft(g.url, alice, { path: TOOL, created: now() - 120 }), 'clock_skew');
  await assertRejected(await craft(g.url, alice, { path: TOOL, created: now() + 30 }), 'clock_skew');
});

test('signature_expired: expires in the past', async () => {
  await assertRejected(await craft(g.url, alice, { path: TOOL, created: now() - 10, expires: now() - 1 }), 'signature_expired');
  assert.equal((await craft(g.url, alice, { path: TOOL, created: now(), expires: now() + 30 })).status, 200, 'expires in the future is honoured');
});

test('replayed_nonce: the same signed request twice', async () => {
  let captured: Record<string, string> = {};
  const first = await craft(g.url, alice, { path: TOOL, body: '{ }', tamper: (h) => (captured = { ...h }) });
  assert.equal(first.status, 200);
  const again = await request(`${g.url}${TOOL}`, { method: 'POST', headers: captured, body: '{ }' });
  await assertRejected({ status: again.statusCode, json: await again.body.json() }, 'replayed_nonce', 'alice');
});

test('identity_revoked and identity_expired: a revoked or expired identity can do nothing', async () => {
  const carol = await registerAgent(g, 'carol', { profile: 'tools' });
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'carol', privateKey: carol.privateKey });
  assert.equal((await c.callTool('system.time')).ok, true);
  const rev = await g.call('DELETE', '/v1/agents/carol?reason=compromised');
  assert.equal(rev.status, 200);
  assert.equal(rev.json.status, 'revoked');
  assert.equal(rev.json.revokedReason, 'compromised');
  const after = await c.callTool('system.time');
  assert.equal(after.status, 401);
  await assertRejected({ status: after.status, json: { error: after.ok ? {} : after.error } }, 'identity_revoked', 'carol');
  const dave = await registerAgent(g, 'dave', { profile: 'tools', expires: 1 });
  const d = createAgentClient({ gatewayUrl: g.url, agentId: 'dave', privateKey: dave.privateKey });
  await new Promise((r) => setTimeout(r, 1100));
  const expired = await d.callTool('system.time');
  await assertRejected({ status: expired.status, json: { error: expired.ok ? {} : expired.error } }, 'identity_expired', 'dave');
  assert.equal((await g.call('GET', '/v1/agents/dave')).json.status, 'expired');
  await c.close();
  await d.close();
});

test('a principal whose identity is revoked after authentication is refused at call time (pipeline step 1)', async () => {
  const erin = await registerAgent(g, 'erin', { profile: 'tools' });
  const principal = { kind: 'agent' as const, agentId: 'erin', profile: 'tools', trustLevel: 'limited' as const, capabilities: [], door: 'http' as const };
  assert.equal((await g.gw.pipeline.callTool({ principal, tool: 'system.time', args: {} })).ok, true);
  assert.equal((await g.gw.pipeline.callTool({ principal: { ...principal, trustLevel: 'trusted' }, tool: 'system.time', args: {} })).ok, false, 'claims more than registered');
  await g.call('DELETE', '/v1/agents/erin');
  const r = await g.gw.pipeline.callTool({ principal, tool: 'system.time', args: {} });
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.error.code, 'identity_revoked');
  void erin;
});

test('credentials do not cross: operator token on an agent endpoint, agent signature on an operator endpoint', async () => {
  const op = await request(`${g.url}${TOOL}`, { method: 'POST', headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json' }, body: '{}' });
  await assertRejected({ status: op.statusCode, json: await op.body.json() }, 'wrong_credential');
  const signed = await craft(g.url, alice, { method: 'GET', path: '/v1/runs', tamper: (h) => delete h.authorization });
  assert.equal(signed.status, 401);
  assert.equal(signed.json.error.code, 'unauthenticated');
  assert.match(signed.json.error.message, /agent signatures are not accepted/);
  const session = await createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey }).createSession();
  const withToken = await request(`${g.url}/v1/status`, { headers: { authorization: `Bearer ${session.token}` } });
  assert.equal(withToken.statusCode, 401, 'a session token is not an operator token');
  await withToken.body.dump();
  assert.ok(logLines.some((l) => l.event === 'request.rejected' && l.door === 'operator'), 'operator refusals are recorded too');
});

test('bad input after authentication is a 4xx, never a 500', async () => {
  const badJson = await craft(g.url, alice, { path: TOOL, body: '{"a":' });
  assert.equal(badJson.status, 400);
  assert.equal(badJson.json.error.code, 'invalid_json');
  const badType = await craft(g.url, alice, { path: TOOL, body: 'hello', extraHeaders: { 'content-type': 'text/plain' } });
  assert.equal(badType.status, 415);
  const badName = await craft(g.url, alice, { path: '/v1/tools/%00evil' });
  assert.equal(badName.status, 400);
  const badArgs = await craft(g.url, alice, { path: TOOL, body: '{"unexpected":1}' });
  assert.equal(badArgs.status, 400);
  assert.equal(badArgs.json.ok, false);
});

test('status shows the identity state', async () => {
  const s = await g.call('GET', '/v1/status');
  assert.equal(s.status, 200);
  assert.ok(s.json.identity.agents.active >= 2);
  assert.ok(s.json.identity.rejectedRequests > 10);
  assert.equal(s.json.identity.requireAuthentication, true);
});

test('under concurrency (verification on the thread pool) good requests pass and forged ones are still refused', async () => {
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey });
  const good = Array.from({ length: 24 }, () => c.callTool('system.time', {}));
  const forged = Array.from({ length: 8 }, () => craft(g.url, bob, { path: TOOL, keyid: 'alice' }));
  const [g1, f1] = await Promise.all([Promise.all(good), Promise.all(forged)]);
  assert.ok(g1.every((r) => r.ok), JSON.stringify(g1.filter((r) => !r.ok)));
  assert.ok(f1.every((r) => r.status === 401 && r.json.error.code === 'bad_signature'));
  await c.close();
});
