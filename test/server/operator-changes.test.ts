/**
 * Operator changes are recorded as what they were: a refused request leaves only its refusal
 * (400 and an http.rejected deny naming why), an allowed one is recorded before it takes effect,
 * and a change whose record cannot be written is refused and not made: token and agent creation,
 * their revocation, session revocation. A change that fails after its record is recorded as failed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readEvents } from '../../src/audit/index.js';
import { createAgentClient, generateEd25519, publicKeyPem } from '../../src/identity/index.js';
import { SqliteDatabase as Database } from '../../src/store/index.js';
import { startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

let g: TestGateway;
const logLines: any[] = [];
before(async () => {
  g = await startGateway({ agents: { tools: { tools: { allow: ['system.time'] }, warmPool: 0 } } }, { logLines });
  // the start-up's own record (the first policy load) is written before the tests look
  await waitFor(() => readEvents(g.gw.auditLog.database!, { type: 'policy.reload' }).length > 0);
});
after(async () => g?.close());

const lastSeq = () => (g.gw.auditLog.status() as { lastSeq: number }).lastSeq;
const eventsAfter = (seq: number) => readEvents(g.gw.auditLog.database!, { afterSeq: seq, limit: 10_000 });
const key = () => publicKeyPem(generateEd25519().publicKey);

/** Every audit insert fails while `fn` runs (a trigger on the real file: a full disk or an attacker). */
async function withAuditBroken<T>(fn: () => Promise<T>): Promise<T> {
  const inject = new Database(join(g.dir, 'state', 'clawguard.db'));
  inject.exec("CREATE TRIGGER test_audit_fails BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END;");
  try {
    return await fn();
  } finally {
    inject.exec('DROP TRIGGER test_audit_fails');
    inject.close();
  }
}

test('an invalid token request (name, scope, expiry) is 400 and leaves no created record, only its refusal', async () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: 'bad name!', scopes: 'read' }, /^name: /],
    [{ name: 'x', scopes: 'root' }, /scope "root" is not one of/],
    [{ name: 'x', scopes: [] }, /^scopes: /],
    [{ name: 'x', scopes: 'read', expires: 'tomorrow-ish' }, /^expires: /],
    [{ name: 'x', scopes: 'read', expires: '2001-01-01' }, /^expires: .* is in the past/],
    [{ name: 'x'.repeat(81), scopes: 'read' }, /^name: /],
  ];
  for (const [body, message] of bad) {
    const before = lastSeq();
    const r = await g.call('POST', '/v1/operator-tokens', body);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, message);
    const events = eventsAfter(before);
    assert.deepEqual(events.map((e) => [e.type, e.decision]), [['http.rejected', 'deny']], `${JSON.stringify(body)}: ${JSON.stringify(events.map((e) => e.type))}`);
    assert.equal(events[0]!.payload!.message, r.json.error.message, 'the refusal says why');
  }
  assert.equal((await g.call('GET', '/v1/operator-tokens')).json.tokens.length, 0);
});

test('an invalid registration (trust level, algorithm, capability, expiry, key) is 400 and leaves no registered record', async () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ agentId: 'r1', publicKey: key(), trustLevel: 'god' }, /^trustLevel must be one of/],
    [{ agentId: 'r1', publicKey: key(), signatureAlgorithm: 'rsa-pss-sha512' }, /signatureAlgorithm "rsa-pss-sha512" is not supported/],
    [{ agentId: 'r1', publicKey: key(), capabilities: ['no spaces'] }, /capability "no spaces" is not valid/],
    [{ agentId: 'r1', publicKey: key(), expires: -5 }, /^expires: /],
    [{ agentId: 'r1', publicKey: 'not a key' }, /publicKey/],
    [{ agentId: 'r1', publicKey: key(), profile: 'nope' }, /^profile: no profile named "nope"/],
  ];
  for (const [body, message] of bad) {
    const before = lastSeq();
    const r = await g.call('POST', '/v1/agents', body);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, message);
    assert.deepEqual(eventsAfter(before).map((e) => [e.type, e.decision]), [['http.rejected', 'deny']], JSON.stringify(body));
  }
  assert.equal((await g.call('GET', '/v1/agents/r1')).status, 404);
});

test('fuzz (fixed seed): a registration or token request is either created with exactly one allow record, or refused with none', async () => {
  const rand = mulberry32(1313);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const pk = key();
  for (let i = 0; i < 60; i++) {
    const before = lastSeq();
    const agent = i % 2 === 0;
    const body = agent
      ? { agentId: `fz-${i}`, publicKey: pick([pk, 'junk']), ...(rand() < 0.5 ? { trustLevel: pick(['trusted', 'limited', 'restricted', 'admin', '']) } : {}), ...(rand() < 0.3 ? { signatureAlgorithm: pick(['ed25519', 'Ed25519', 'hmac-sha256']) } : {}), ...(rand() < 0.3 ? { expires: pick(['1h', 1e308, '2001-01-01', 60, '30d', 'never']) } : {}) }
      : { name: pick(['ok-name', 'bad/name', '']), scopes: pick(['read', 'read,write', 'sudo', ['admin'], []]), ...(rand() < 0.3 ? { expires: pick(['1h', 1e308, '9999-12-31', 0, 3600]) } : {}) };
    const r = await g.call('POST', agent ? '/v1/agents' : '/v1/operator-tokens', body);
    const types = eventsAfter(before).map((e) => `${e.type}:${e.decision}`);
    if (r.status === 201) assert.deepEqual(types, [agent ? 'identity.agent.registered:allow' : 'identity.operator_token.created:allow'], JSON.stringify(body));
    else {
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
      assert.deepEqual(types, ['http.rejected:deny'], JSON.stringify(body));
    }
  }
});

test('when the record cannot be written, creation and every revocation are refused (503) and not made', async () => {
  const t = await g.call('POST', '/v1/operator-tokens', { name: 'keeper', scopes: 'read' });
  assert.equal(t.status, 201);
  const { privateKey, publicKey } = generateEd25519();
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'keeper-bot', publicKey: publicKeyPem(publicKey), profile: 'tools' })).status, 201);
  const client = createAgentClient({ gatewayUrl: g.url, agentId: 'keeper-bot', privateKey });
  const session = await client.createSession();
  await withAuditBroken(async () => {
    for (const [method, path, body] of [
      ['POST', '/v1/operator-tokens', { name: 'never', scopes: 'read' }],
      ['POST', '/v1/agents', { agentId: 'never-bot', publicKey: key() }],
      ['DELETE', `/v1/operator-tokens/${t.json.id}`, undefined],
      ['DELETE', '/v1/agents/keeper-bot', undefined],
      ['DELETE', '/v1/agents/keeper-bot/sessions', undefined],
    ] as const) {
      const r = await g.call(method, path, body);
      assert.equal(r.status, 503, `${method} ${path}: ${r.text}`);
      assert.equal(r.json.error.code, 'audit_unavailable');
      assert.match(r.json.error.message, /refused: the audit record could not be written/);
    }
  });
  // nothing of it happened
  assert.equal((await g.call('GET', '/v1/runs', undefined, { authorization: `Bearer ${t.json.token}` })).status, 200, 'the token still works');
  assert.equal((await g.call('GET', '/v1/agents/keeper-bot')).json.status, 'active');
  assert.equal((await g.call('GET', '/v1/agents/never-bot')).status, 404);
  assert.ok(!(await g.call('GET', '/v1/operator-tokens')).json.tokens.some((x: { name: string }) => x.name === 'never'));
  const withToken = await g.call('POST', '/v1/tools/system.time', {}, { authorization: `Bearer ${session.token}` });
  assert.equal(withToken.status, 200, `the session still works: ${withToken.text}`);
  // and with the log writable again, the same revocations go through, each recorded once
  const before = lastSeq();
  assert.equal((await g.call('DELETE', `/v1/operator-tokens/${t.json.id}`)).json.status, 'revoked');
  assert.equal((await g.call('DELETE', '/v1/agents/keeper-bot/sessions')).json.revoked, 1);
  assert.equal((await g.call('DELETE', '/v1/agents/keeper-bot')).json.status, 'revoked');
  assert.deepEqual(eventsAfter(before).map((e) => e.type).filter((t) => t.startsWith('identity.')), ['identity.operator_token.revoked', 'identity.session.revoked', 'identity.agent.revoked']);
  await client.close();
});

test('an agent cannot end its own session without the record either', async () => {
  const { privateKey, publicKey } = generateEd25519();
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'self-bot', publicKey: publicKeyPem(publicKey), profile: 'tools' })).status, 201);
  const client = createAgentClient({ gatewayUrl: g.url, agentId: 'self-bot', privateKey });
  const session = await client.createSession();
  const bearer = { authorization: `Bearer ${session.token}` };
  const refused = await withAuditBroken(() => g.call('DELETE', '/v1/sessions/current', undefined, bearer));
  assert.equal(refused.status, 503, refused.text);
  assert.equal((await g.call('POST', '/v1/tools/system.time', {}, bearer)).status, 200, 'still valid: nothing was revoked');
  assert.equal((await g.call('DELETE', '/v1/sessions/current', undefined, bearer)).status, 200);
  assert.equal((await g.call('POST', '/v1/tools/system.time', {}, bearer)).status, 401);
  await client.close();
});

test('a change that fails after its record is recorded as failed, tied to the record', async () => {
  const inject = new Database(join(g.dir, 'state', 'clawguard.db'));
  inject.exec("CREATE TRIGGER test_token_insert_fails BEFORE INSERT ON identity_operator_tokens BEGIN SELECT RAISE(ABORT, 'token store failure (injected)'); END;");
  const before = lastSeq();
  try {
    const r = await g.call('POST', '/v1/operator-tokens', { name: 'half-made', scopes: 'read' });
    assert.equal(r.status, 500, r.text);
  } finally {
    inject.exec('DROP TRIGGER test_token_insert_fails');
    inject.close();
  }
  const events = eventsAfter(before);
  const created = events.find((e) => e.type === 'identity.operator_token.created')!;
  const failed = events.find((e) => e.type === 'operator.change.failed')!;
  assert.ok(created && failed, JSON.stringify(events.map((e) => e.type)));
  assert.equal(failed.payload!.decisionSeq, created.seq);
  assert.equal(failed.payload!.change, 'identity.operator_token.created');
  assert.match(String(failed.payload!.message), /token store failure/);
  assert.ok(!(await g.call('GET', '/v1/operator-tokens')).json.tokens.some((x: { name: string }) => x.name === 'half-made'));
});

test('a policy reload (SIGHUP, the API entry point) is recorded before it takes effect, and refused when it cannot be', async () => {
  const policies = join(g.dir, 'state', 'policies');
  await withAuditBroken(async () => {
    // the policy dir's watcher and SIGHUP both ask; both are refused
    writeFileSync(join(policies, 'deny-time.cedar'), '@id("no-time") forbid(principal, action == Action::"system.time", resource);');
    await waitFor(() => logLines.some((l) => l.trigger === 'watch' && /policy reload refused: the audit record could not be written/.test(l.msg)));
    process.kill(process.pid, 'SIGHUP');
    await waitFor(() => logLines.some((l) => l.trigger === 'sighup' && /policy reload refused: the audit record could not be written/.test(l.msg)));
    await assert.rejects(g.gw.reloadPolicies('api', 'operator'), (e: Error & { code?: string }) => e.code === 'audit_unavailable');
    // POST /v1/policy/reload goes through the same entry point
    const api = await g.call('POST', '/v1/policy/reload');
    assert.equal(api.status, 503, api.text);
    assert.equal(api.json.error.code, 'audit_unavailable');
  });
  assert.equal((g.gw.pdp.status().policies as { local: number }).local, 0, 'the new file is not in force');
  const before = lastSeq();
  const r = await g.gw.reloadPolicies('api', 'operator');
  assert.equal(r.ok, true);
  assert.equal((g.gw.pdp.status().policies as { local: number }).local, 1);
  await waitFor(() => eventsAfter(before).some((e) => e.type === 'policy.reload'));
  const events = eventsAfter(before);
  assert.deepEqual(events.map((e) => e.type).slice(0, 2), ['policy.reload.requested', 'policy.reload']);
  assert.equal(events[0]!.subject, 'operator');
  writeFileSync(join(policies, 'deny-time.cedar'), '');
  const viaApi = lastSeq();
  assert.equal((await g.call('POST', '/v1/policy/reload')).status, 200);
  const requested = eventsAfter(viaApi).find((e) => e.type === 'policy.reload.requested');
  assert.ok(requested, 'the API reload is recorded first');
  assert.equal(requested.payload!.trigger, 'api');
});
