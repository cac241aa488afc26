import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { parseConfig } from '../../src/config/index.js';
import { createAgentClient } from '../../src/identity/index.js';
import { Gateway } from '../../src/server/index.js';
import { operatorTokenPath } from '../../src/store/index.js';
import { readFileSync } from 'node:fs';
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js';
import { registerAgent, TOOLS_PROFILE, ZERO_TRUST } from './helpers.js';

let g: TestGateway;
before(async () => {
  g = await startGateway({ agents: { tools: TOOLS_PROFILE }, ...ZERO_TRUST({ rateLimit: true }, { rateLimit: { requestsPerSecond: 1, burst: 3 } }) });
});
after(async () => g?.close());

const as = (token: string) => (method: string, path: string, body?: unknown) => g.call(method, path, body, { authorization: `Bearer ${token}` });

test('operator tokens carry scopes: read < write < admin', async () => {
  const mk = async (scopes: string) => {
    const r = await g.call('POST', '/v1/operator-tokens', { name: `t-${scopes}`, scopes });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.token, /^cg_opt_[0-9a-f]{16}\./);
    return r.json as { id: string; token: string };
  };
  const read = as((await mk('read')).token);
  const write = as((await mk('write')).token);
  const admin = as((await mk('admin')).token);
  assert.equal((await read('GET', '/v1/runs')).status, 200);
  assert.equal((await read('GET', '/v1/status')).status, 200);
  const denied = await read('POST', '/v1/runs', { profile: 'tools' });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error.code, 'insufficient_scope');
  // the refusal was durable before the 403 went out: it is in the log the moment the answer is
  const refusals = (await g.call('GET', '/v1/audit/events?type=request.rejected&limit=1000')).json.events as Array<{ action: string; payload: { code: string; door: string } }>;
  assert.ok(refusals.some((e) => e.action === 'POST /v1/runs' && e.payload.code === 'insufficient_scope' && e.payload.door === 'operator'), JSON.stringify(refusals.slice(-3)));
  assert.equal((await read('GET', '/v1/agents')).status, 403);
  assert.notEqual((await write('POST', '/v1/runs', { profile: 'nope' })).status, 403, 'write may start runs');
  assert.equal((await write('GET', '/v1/runs')).status, 200, 'write implies read');
  assert.equal((await write('GET', '/v1/agents')).status, 403, 'identity management needs admin');
  assert.equal((await write('POST', '/v1/operator-tokens', { name: 'x', scopes: 'read' })).status, 403);
  assert.equal((await admin('GET', '/v1/agents')).status, 200);
  const listed = await g.call('GET', '/v1/operator-tokens');
  assert.equal(listed.json.tokens.length, 3);
  assert.ok(listed.json.tokens.every((t: Record<string, unknown>) => !('token' in t) && !('tokenHash' in t)), 'secrets are never listed');
});

test('a revoked or expired operator token stops working; bad requests are 400', async () => {
  const t = await g.call('POST', '/v1/operator-tokens', { name: 'short', scopes: ['read'], expires: 1 });
  const use = as(t.json.token);
  assert.equal((await use('GET', '/v1/runs')).status, 200);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await use('GET', '/v1/runs')).status, 401);
  const t2 = await g.call('POST', '/v1/operator-tokens', { name: 'revokable', scopes: 'read' });
  assert.equal((await g.call('DELETE', `/v1/operator-tokens/${t2.json.id}`)).json.status, 'revoked');
  assert.equal((await as(t2.json.token)('GET', '/v1/runs')).status, 401);
  assert.equal((await g.call('POST', '/v1/operator-tokens', { name: 'x', scopes: 'root' })).status, 400);
  assert.equal((await g.call('POST', '/v1/operator-tokens', { name: 'x', scopes: [] })).status, 400);
  assert.equal((await g.call('DELETE', '/v1/operator-tokens/nope')).status, 404);
  const forged = `${t2.json.token.slice(0, -4)}AAAA`;
  assert.equal((await as(forged)('GET', '/v1/runs')).status, 401);
});

test('the state-dir token file and CLAWGUARD_TOKEN are both admin tokens', async () => {
  const dir = tempDir('cg-optoken-');
  const stateDir = join(dir, 'state');
  const first = new Gateway({ config: parseConfig({}, join(dir, 'c.json')), stateDir, port: 0, logger: pino({ level: 'silent' }) });
  await first.stop(0);
  const fileToken = readFileSync(operatorTokenPath(stateDir), 'utf8').trim();
  const gw = new Gateway({ config: parseConfig({}, join(dir, 'c.json')), stateDir, port: 0, logger: pino({ level: 'silent' }), token: 'env-token-from-CLAWGUARD_TOKEN' });
  const info = await gw.start();
  try {
    for (const token of [fileToken, 'env-token-from-CLAWGUARD_TOKEN']) {
      const r = await request(`${info.url}/v1/agents`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.statusCode, 200);
      await r.body.dump();
    }
    const bad = await request(`${info.url}/v1/agents`, { headers: { authorization: 'Bearer env-token-from-CLAWGUARD_TOKEN-but-longer' } });
    assert.equal(bad.statusCode, 401);
    await bad.body.dump();
  } finally {
    await gw.stop(0);
  }
});

test('agent registry API: validation, conflicts, unknown profile, JWK keys', async () => {
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'bad id!', publicKey: 'x' })).status, 400);
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'k1', publicKey: 'not a key' })).status, 400);
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'anonymous', publicKey: 'x' })).status, 400);
  const { generateEd25519 } = await import('../../src/identity/index.js');
  const jwk = generateEd25519().publicKey.export({ format: 'jwk' });
  const r = await g.call('POST', '/v1/agents', { agentId: 'k2', publicKey: jwk, trustLevel: 'restricted', capabilities: ['fs:read'] });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.signatureAlgorithm, 'ed25519');
  assert.equal(r.json.trustLevel, 'restricted');
  assert.deepEqual(r.json.capabilities, ['fs:read']);
  assert.equal(r.json.status, 'active');
  assert.ok(r.json.created);
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'k2', publicKey: jwk })).status, 409);
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'k3', publicKey: jwk, profile: 'nope' })).status, 400);
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'k3', publicKey: jwk, trustLevel: 'god' })).status, 400);
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'k3', publicKey: jwk, expires: '2001-01-01' })).status, 400);
  assert.equal((await g.call('GET', '/v1/agents/nobody')).status, 404);
  assert.equal((await g.call('DELETE', '/v1/agents/nobody')).status, 404);
  const rsa = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
  const notEd = await g.call('POST', '/v1/agents', { agentId: 'k4', publicKey: rsa });
  assert.equal(notEd.status, 400);
  assert.match(notEd.json.error.message, /Ed25519/);
});

test('rateLimit: per-agent token bucket, 429 with Retry-After; other agents unaffected', async () => {
  const a = await registerAgent(g, 'busy', { profile: 'tools' });
  const b = await registerAgent(g, 'quiet', { profile: 'tools' });
  const ca = createAgentClient({ gatewayUrl: g.url, agentId: 'busy', privateKey: a.privateKey });
  const cb = createAgentClient({ gatewayUrl: g.url, agentId: 'quiet', privateKey: b.privateKey });
  const statuses: number[] = [];
  let retryAfter: unknown;
  for (let i = 0; i < 6; i++) {
    const r = await ca.request('POST', '/v1/tools/system.time', {});
    statuses.push(r.status);
    if (r.status === 429) {
      retryAfter = r.headers['retry-after'];
      assert.equal((r.json as any).error.code, 'rate_limited');
    }
  }
  assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], 'the burst passes');
  assert.ok(statuses.includes(429), `limited: ${statuses}`);
  assert.ok(Number(retryAfter) >= 1);
  assert.equal((await cb.request('POST', '/v1/tools/system.time', {})).status, 200);
  await ca.close();
  await cb.close();
});
