import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { AgentRegistry, createAgentClient, generateEd25519, openSqliteForTest, ROTATED_TOKEN_HEADER, SessionTokens, TokenSigner } from './session-deps.js';
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js';
import { registerAgent, type TestAgent, TOOLS_PROFILE, ZERO_TRUST } from './helpers.js';

let g: TestGateway;
let alice: TestAgent;
const TOOL = '/v1/tools/system.time';
const withToken = async (token: string, path = TOOL, method: 'POST' | 'GET' | 'DELETE' = 'POST') => {
  const r = await request(`${g.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, ...(method === 'POST' ? { body: '{}' } : {}) });
  const json = (await r.body.json()) as any;
  return { status: r.statusCode, json, headers: r.headers };
};

before(async () => {
  g = await startGateway({ agents: { tools: TOOLS_PROFILE }, ...ZERO_TRUST() });
  alice = await registerAgent(g, 'alice', { profile: 'tools' });
});
after(async () => g?.close());

test('a signed POST /v1/sessions returns a short-lived EdDSA JWT bound to the agent; it works on agent endpoints', async () => {
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey });
  const s = await c.createSession();
  const [header, payload] = s.token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
  assert.equal(header.alg, 'EdDSA');
  assert.equal(payload.sub, 'alice');
  assert.ok(payload.exp - payload.iat <= 900, 'TTL at most 15 minutes');
  const r = await s.callTool('system.time', {});
  assert.equal(r.ok, true);
  await c.close();
});

test('opening a session needs a signature: a token or nothing is refused', async () => {
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey });
  const s = await c.createSession();
  const r = await withToken(s.token, '/v1/sessions');
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'signature_required');
  const none = await request(`${g.url}/v1/sessions`, { method: 'POST' });
  assert.equal(none.statusCode, 401);
  await none.body.dump();
  await c.close();
});

test('rotation: a new token; the old one keeps working for the grace period only; it cannot be rotated twice', async () => {
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey });
  const s = await c.createSession();
  const old = s.token;
  const next = await s.rotate();
  assert.notEqual(next.token, old);
  assert.equal(s.token, next.token);
  assert.equal((await withToken(next.token)).status, 200);
  assert.equal((await withToken(old)).status, 200, 'within the grace period');
  const again = await withToken(old, '/v1/sessions/rotate');
  assert.equal(again.status, 401);
  assert.equal(again.json.error.code, 'token_rotated');
  await c.close();
});

test('revocation is immediate, for the whole session', async () => {
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey: alice.privateKey });
  const s = await c.createSession();
  const first = s.token;
  await s.rotate();
  assert.equal((await withToken(s.token)).status, 200);
  await s.revoke();
  for (const t of [s.token, first]) {
    const r = await withToken(t);
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'token_revoked');
  }
  await c.close();
});

test('operator revocation of an agent kills its tokens at once; tokens of another gateway key are refused', async () => {
  const bob = await registerAgent(g, 'bob', { profile: 'tools' });
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'bob', privateKey: bob.privateKey });
  const s = await c.createSession();
  assert.equal((await withToken(s.token)).status, 200);
  const r = await g.call('DELETE', '/v1/agents/bob/sessions');
  assert.equal(r.json.revoked, 1);
  assert.equal((await withToken(s.token)).json.error.code, 'token_revoked');
  const s2 = await c.createSession();
  await g.call('DELETE', '/v1/agents/bob');
  assert.equal((await withToken(s2.token)).json.error.code, 'token_revoked', 'revoking the agent revokes its sessions');
  const forged = s2.token.split('.').slice(0, 2).join('.') + '.' + Buffer.alloc(64, 1).toString('base64url');
  assert.equal((await withToken(forged)).json.error.code, 'token_invalid');
  assert.equal((await withToken('a.b.c')).json.error.code, 'token_invalid');
  await c.close();
});

test('session tokens: TTL capped at 15 min; grace, expiry and unknown tokens with a controlled clock', async () => {
  const dir = tempDir('cg-sessions-');
  const db = openSqliteForTest(join(dir, 'db.sqlite'));
  let t = Date.parse('2030-01-01T00:00:00Z');
  const signer = new TokenSigner(dir);
  const reg = new AgentRegistry(db, () => t);
  reg.register({ agentId: 'a1', publicKey: generateEd25519().publicKey });
  const st = new SessionTokens(db, signer, { ttlSeconds: 3600, graceSeconds: 10, now: () => t });
  assert.equal(st.ttlSeconds, 900, 'capped');
  const issued = await st.issue('a1');
  const claims = await signer.verify(issued.token, t);
  assert.equal(st.check(claims).rotateSuggested, false);
  t += 500_000;
  assert.equal(st.check(await signer.verify(issued.token, t)).rotateSuggested, true, 'past half its life');
  const next = await st.rotate(claims.jti);
  t += 9_000;
  assert.equal(st.check(await signer.verify(issued.token, t)).agentId, 'a1', 'old token inside the grace');
  t += 1_000;
  await assert.rejects(async () => st.check(await signer.verify(issued.token, t)), { code: 'token_rotated' });
  assert.equal(st.check(await signer.verify(next.token, t)).agentId, 'a1');
  t += 900_000;
  await assert.rejects(() => signer.verify(next.token, t), { code: 'token_expired' });
  const other = new TokenSigner(tempDir('cg-other-'));
  await assert.rejects(() => other.verify(next.token, t - 900_000), { code: 'token_invalid' }, 'another gateway key');
  assert.equal(new SessionTokens(db, signer, { ttlSeconds: 60, graceSeconds: 0, now: () => t }).graceSeconds, 0);
  reg.close();
  db.close();
});

test('signAllRequests: tokens are refused everywhere, signatures still work', async () => {
  const strict = await startGateway({ agents: { tools: TOOLS_PROFILE }, ...ZERO_TRUST({ signAllRequests: true }) });
  try {
    const a = await registerAgent(strict, 'alice', { profile: 'tools' });
    const c = createAgentClient({ gatewayUrl: strict.url, agentId: 'alice', privateKey: a.privateKey });
    await assert.rejects(() => c.createSession(), { code: 'session_tokens_disabled', status: 403 });
    const token = await g.gw.identity.sessions.issue('alice');
    const r = await request(`${strict.url}${TOOL}`, { method: 'POST', headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.statusCode, 401);
    assert.equal(((await r.body.json()) as any).error.code, 'signature_required');
    assert.equal((await c.callTool('system.time')).ok, true);
    await c.close();
  } finally {
    await strict.close();
  }
});

test('sessionTokenRotation: past half its life, a token gets its successor in a response header', async () => {
  const rot = await startGateway({ agents: { tools: TOOLS_PROFILE }, ...ZERO_TRUST({ sessionTokenRotation: true }) });
  try {
    const a = await registerAgent(rot, 'alice', { profile: 'tools' });
    const c = createAgentClient({ gatewayUrl: rot.url, agentId: 'alice', privateKey: a.privateKey });
    const s = await c.createSession();
    const first = s.token;
    const fresh = await s.request('POST', TOOL, {});
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers[ROTATED_TOKEN_HEADER], undefined, 'a fresh token is not rotated');
    // Let the stored session age past half its TTL (instead of waiting 7.5 minutes).
    const jti = JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString()).jti as string;
    rot.gw.store.db.prepare('UPDATE identity_sessions SET expires_at = ? WHERE jti = ?').run(Math.floor(Date.now() / 1000) + 60, jti);
    const r = await s.request('POST', TOOL, {});
    assert.equal(r.status, 200);
    assert.equal(typeof r.headers[ROTATED_TOKEN_HEADER], 'string');
    assert.notEqual(s.token, first, 'the client switched to the new token');
    assert.equal((await s.callTool('system.time')).ok, true);
    assert.equal((await withTokenAt(rot, first)).status, 200, 'the old token still works during the grace period');
    await c.close();
  } finally {
    await rot.close();
  }
});

async function withTokenAt(gw: TestGateway, token: string) {
  const r = await request(`${gw.url}${TOOL}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
  await r.body.dump();
  return { status: r.statusCode };
}
