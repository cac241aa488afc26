import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SecretConfig } from '../../src/config/index.js';
import type { Principal } from '../../src/pipeline/index.js';
import { GATEWAY_PRINCIPAL, hostAllowed, type SecretProvider } from '../../src/secrets/index.js';
import { agent, auditText, rig } from './helpers.js';

const OPENAI = 'sk-broker-test-value-0123456789';
const config = {
  openai: { source: 'env', env: 'OPENAI_KEY', agents: ['researcher'], allowedHosts: ['api.openai.com', '*.openai.azure.com'] },
  github: { source: 'env', env: 'GH_TOKEN', agents: ['researcher', 'agent-7'], allowedHosts: ['api.github.com:443'] },
  nohosts: { source: 'env', env: 'OPENAI_KEY', agents: ['researcher'] },
};
const env = { OPENAI_KEY: OPENAI, GH_TOKEN: 'ghp_broker_test_token_abcdef' };

test('allowedHosts: exact hosts, *.subdomains (not the apex), https on 443 unless the entry says otherwise', () => {
  const h = ['api.openai.com', '*.openai.azure.com', 'api.github.com:443', 'http://127.0.0.1:8080'];
  const ok = (u: string) => hostAllowed(h, new URL(u));
  assert.equal(ok('https://api.openai.com/v1'), true);
  assert.equal(ok('https://API.OPENAI.COM./v1'), true);
  assert.equal(ok('http://api.openai.com:8443/'), false, 'no port in the pattern: https on 443 only');
  assert.equal(ok('http://api.openai.com/'), false, 'no scheme in the pattern: never plain http');
  assert.equal(ok('https://127.0.0.1:8080/'), false, 'an http origin is http only');
  assert.equal(ok('https://evil.com/api.openai.com'), false);
  assert.equal(ok('https://api.openai.com.evil.com/'), false);
  assert.equal(ok('https://x.openai.azure.com/'), true);
  assert.equal(ok('https://openai.azure.com/'), false);
  assert.equal(ok('https://api.github.com/'), true);
  assert.equal(ok('http://api.github.com/'), false, 'port 80 is not 443');
  assert.equal(ok('http://127.0.0.1:8080/'), true);
  assert.equal(ok('http://127.0.0.1:8081/'), false);
  assert.equal(ok('ftp://api.openai.com/'), false);
  assert.equal(hostAllowed([], new URL('https://api.openai.com/')), false, 'no allowedHosts: nowhere');
});

test('a granted agent gets the value only for an allowed host; every use and refusal is audited without the value', async () => {
  const r = rig(config, { env });
  try {
    const p = agent('researcher', 'run-42');
    assert.equal(await r.broker.inject(p, 'openai', new URL('https://api.openai.com/v1/chat')), OPENAI);
    await assert.rejects(r.broker.inject(p, 'openai', new URL('https://evil.example.com/collect')), (e: any) => e.code === 'host_blocked' && /may only be sent to its allowedHosts \(api.openai.com, \*.openai.azure.com\), not to https:\/\/evil.example.com/.test(e.message));
    await assert.rejects(r.broker.inject(p, 'nohosts', new URL('https://api.openai.com/')), (e: any) => e.code === 'host_blocked' && /\(none\)/.test(e.message));
    await assert.rejects(r.broker.inject(agent('intruder'), 'openai', new URL('https://api.openai.com/')), (e: any) => e.code === 'denied' && /agent profile "intruder" is not granted secret "openai"/.test(e.message));
    await assert.rejects(r.broker.inject(p, 'nope', new URL('https://api.openai.com/')), (e: any) => e.code === 'secret_unavailable' && /no secret named "nope"/.test(e.message));
    // A grant may name an agent id instead of a profile.
    const byId: Principal = { kind: 'agent', agentId: 'agent-7', trustLevel: 'trusted', capabilities: [], door: 'http' };
    assert.equal(await r.broker.inject(byId, 'github', new URL('https://api.github.com/user')), env.GH_TOKEN);
    const uses = r.audit.ofType('secret.use');
    assert.deepEqual(uses.map((u) => [u.subject, u.decision, (u.payload as any).result, (u.payload as any).host]), [
      ['researcher', 'allow', 'allowed', 'api.openai.com'],
      ['researcher', 'deny', 'host_blocked', 'evil.example.com'],
      ['researcher', 'deny', 'host_blocked', 'api.openai.com'],
      ['intruder', 'deny', 'denied', 'api.openai.com'],
      ['researcher', 'deny', 'unavailable', 'api.openai.com'],
      ['agent-7', 'allow', 'allowed', 'api.github.com'],
    ]);
    assert.equal(uses[0]!.runId, 'run-42');
    assert.equal(uses[0]!.resource, 'secret:openai@api.openai.com');
    const text = auditText(r.audit);
    assert.ok(!text.includes(OPENAI) && !text.includes(env.GH_TOKEN), 'the audit log never holds a value');
    const s = r.broker.status().secrets.find((x) => x.name === 'openai')!;
    assert.equal(s.uses24h, 1);
    assert.equal(s.denials24h, 2);
    assert.deepEqual(s.grants, ['researcher']);
    assert.ok(!JSON.stringify(r.broker.status()).includes(OPENAI), 'status is metadata only');
    const metrics = await r.registry.metrics();
    assert.match(metrics, /clawguard_secrets_access_total\{secret="openai",result="allowed"\} 1/);
    assert.match(metrics, /clawguard_secrets_access_total\{secret="openai",result="host_blocked"\} 1/);
    assert.match(metrics, /clawguard_secrets_access_total\{secret="openai",result="denied"\} 1/);
    assert.match(metrics, /clawguard_secrets_access_total\{secret="\(unknown\)",result="unavailable"\} 1/);
  } finally {
    r.close();
  }
});

test('the policy decision is asked with (principal, secret, host) and a deny — or a failing decision — is final', async () => {
  const asked: Array<[string, string, string]> = [];
  let mode: 'allow' | 'deny' | 'throw' = 'deny';
  const r = rig(config, {
    env,
    authorize: async (p, secret, host) => {
      asked.push([p.profile ?? p.agentId, secret, host]);
      if (mode === 'throw') throw new Error('PDP crashed');
      return mode === 'allow' ? { effect: 'allow', reasons: ['config: secret.use'] } : { effect: 'deny', reasons: ['local policy forbids it'] };
    },
  });
  try {
    const p = agent('researcher');
    await assert.rejects(r.broker.inject(p, 'openai', new URL('https://api.openai.com/')), (e: any) => e.code === 'denied' && /denied by policy: local policy forbids it/.test(e.message));
    mode = 'throw';
    await assert.rejects(r.broker.inject(p, 'openai', new URL('https://api.openai.com/')), /decision failed: PDP crashed/);
    mode = 'allow';
    assert.equal(await r.broker.inject(p, 'openai', new URL('https://api.openai.com/')), OPENAI);
    await assert.rejects(r.broker.inject(agent('intruder'), 'openai', new URL('https://api.openai.com/')), /not granted/, 'an allowing PDP does not override a missing config grant');
    assert.deepEqual(asked, [['researcher', 'openai', 'api.openai.com'], ['researcher', 'openai', 'api.openai.com'], ['researcher', 'openai', 'api.openai.com']]);
  } finally {
    r.close();
  }
});

test('fail closed: no audit, no value', async () => {
  const r = rig(config, { env });
  try {
    r.audit.failing = true;
    await assert.rejects(r.broker.inject(agent('researcher'), 'openai', new URL('https://api.openai.com/')), (e: any) => e.code === 'audit_unavailable');
    assert.match(await r.registry.metrics(), /clawguard_secrets_access_total\{secret="openai",result="audit_unavailable"\} 1/);
  } finally {
    r.close();
  }
});

/** A provider whose availability the test controls, counting reads. */
function flaky(): SecretProvider & { reads: number; down: boolean; value: string } {
  return {
    reads: 0,
    down: false,
    value: 'flaky-value-v1-000000',
    rotationMode: () => 'reread',
    async fetch(this: { reads: number; down: boolean; value: string }, s: SecretConfig) {
      this.reads++;
      if (this.down) throw new Error(`${s.name}: provider unreachable`);
      return { value: this.value };
    },
  };
}

test('values are cached for cacheTtl; a provider outage after that is fail-closed, and status says why; recovery is noticed', async () => {
  const p = flaky();
  const r = rig({ f: { source: 'exec', command: '/bin/true', cacheTtl: '10s', agents: ['researcher'], allowedHosts: ['api.example.com'] } }, { providers: { exec: p } });
  const use = () => r.broker.inject(agent('researcher'), 'f', new URL('https://api.example.com/'));
  try {
    assert.equal(await use(), 'flaky-value-v1-000000');
    await Promise.all([use(), use(), use()]);
    assert.equal(p.reads, 1, 'served from the cache');
    p.down = true;
    r.clock.advanceSeconds(5);
    assert.equal(await use(), 'flaky-value-v1-000000', 'still inside the TTL');
    r.clock.advanceSeconds(6);
    await assert.rejects(use(), (e: any) => e.code === 'secret_unavailable' && /provider unreachable/.test(e.message));
    await assert.rejects(use(), /provider unreachable/, 'no stale value is served');
    const st = r.broker.status().secrets[0]!;
    assert.equal(st.health, 'unavailable');
    assert.match(st.reason!, /provider unreachable/);
    assert.deepEqual(r.audit.ofType('secret.health').map((e) => (e.payload as any).health), ['unavailable']);
    p.down = false;
    p.value = 'flaky-value-v2-111111';
    assert.equal(await use(), 'flaky-value-v2-111111');
    assert.equal(r.broker.status().secrets[0]!.health, 'ok');
    assert.equal(r.broker.status().secrets[0]!.version, '2', 'a changed value is a new version');
    assert.deepEqual(r.audit.ofType('secret.health').map((e) => (e.payload as any).health), ['unavailable', 'ok']);
  } finally {
    r.close();
  }
});

test('model API keys: apiKeySecret resolves through the broker, bound to the provider host; apiKeyEnv otherwise', async () => {
  const r = rig(config, { env: { ...env, PLAIN_KEY: 'plain-env-key' } });
  try {
    const base = { type: 'openai-compatible' as const, timeoutMs: 1000, headers: {} };
    assert.equal(await r.broker.apiKeyResolver({ name: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeySecret: 'openai', ...base }), OPENAI);
    await assert.rejects(r.broker.apiKeyResolver({ name: 'proxy', baseUrl: 'https://llm-proxy.evil.example/v1', apiKeySecret: 'openai', ...base }), (e: any) => e.code === 'host_blocked' && /may not be sent to https:\/\/llm-proxy.evil.example: add "https:\/\/llm-proxy.evil.example" to secrets.openai.allowedHosts/.test(e.message));
    assert.equal(await r.broker.apiKeyResolver({ name: 'local', baseUrl: 'http://127.0.0.1:8000/v1', apiKeyEnv: 'PLAIN_KEY', ...base }), 'plain-env-key');
    assert.equal(await r.broker.apiKeyResolver({ name: 'none', baseUrl: 'http://127.0.0.1:8000/v1', ...base }), undefined);
    const use = r.audit.ofType('secret.use')[0]!;
    assert.equal(use.agentId, GATEWAY_PRINCIPAL.agentId);
    assert.equal((use.payload as any).target, 'model:openai');
  } finally {
    r.close();
  }
});

test('resolveFor (exec-protocol resolution): grant decides; no host to bind, but an empty allowedHosts is nowhere', async () => {
  const r = rig(config, { env });
  try {
    const p: Principal = { kind: 'agent', agentId: 'researcher', trustLevel: 'limited', capabilities: [], door: 'plugin' };
    assert.equal(await r.broker.resolveFor(p, 'openai'), OPENAI);
    await assert.rejects(r.broker.resolveFor({ ...p, agentId: 'other' }, 'openai'), (e: any) => e.code === 'denied');
    await assert.rejects(r.broker.resolveFor(p, 'nohosts'), (e: any) => e.code === 'denied' && /allowedHosts is empty/.test(e.message));
    assert.deepEqual(r.audit.ofType('secret.use').map((e) => [e.decision, (e.payload as any).door, (e.payload as any).host]), [['allow', 'plugin', null], ['deny', 'plugin', null], ['deny', 'plugin', null]]);
  } finally {
    r.close();
  }
});

test('exposures: each redaction catch counts against its secret and is audited (batched)', async () => {
  const r = rig(config, { env });
  try {
    await r.broker.start({ schedule: false });
    const out = r.broker.redactor.filter({ body: `echo ${OPENAI} and ${Buffer.from(OPENAI).toString('base64')}` }) as { body: string };
    assert.equal(out.body, 'echo [REDACTED:openai] and [REDACTED:openai]');
    await new Promise((res) => setImmediate(res));
    const ev = r.audit.ofType('secret.exposure');
    assert.equal(ev.length, 1);
    assert.deepEqual(ev[0]!.payload, { secret: 'openai', count: 2, partial: 0, where: ['output'] });
    const st = r.broker.status().secrets.find((s) => s.name === 'openai')!;
    assert.equal(st.exposures, 2);
    assert.ok(st.lastExposure);
    assert.match(await r.registry.metrics(), /clawguard_secrets_exposure_total\{secret="openai"\} 2/);
    assert.ok(!auditText(r.audit).includes(OPENAI));
  } finally {
    r.close();
  }
});

test('a part of a value (a host that cut it short) is an exposure too, audited as a part', async () => {
  const r = rig(config, { env });
  try {
    await r.broker.start({ schedule: false });
    const out = r.broker.redactor.redactText(`{"error":"invalid key ${OPENAI.slice(0, 25)}..."}`, 'http.fetch');
    // The whole place the value would take goes, not only the part: what comes out says nothing about how far the part went.
    assert.equal(out, '{"error":"invalid key [REDACTED:openai]');
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(r.audit.ofType('secret.exposure').map((e) => e.payload), [{ secret: 'openai', count: 1, partial: 1, where: ['http.fetch'] }]);
    assert.equal(r.broker.status().secrets.find((s) => s.name === 'openai')!.exposures, 1);
  } finally {
    r.close();
  }
});

test('start(): prefetch teaches the redactor every value before any use; an unavailable one does not stop the rest', async () => {
  const r = rig({ ...config, broken: { source: 'env', env: 'NOT_SET', agents: [], allowedHosts: [] } }, { env });
  try {
    await r.broker.start({ schedule: false });
    assert.equal(r.broker.redactor.redactText(`${OPENAI} ${env.GH_TOKEN}`), '[REDACTED:openai] [REDACTED:github]');
    const st = r.broker.status();
    assert.equal(st.secrets.find((s) => s.name === 'broken')!.health, 'unavailable');
    assert.equal(st.secrets.find((s) => s.name === 'openai')!.health, 'ok');
    assert.equal(st.redaction.secretsKnown, 3, 'openai, github and nohosts (which shares the value of openai)');
  } finally {
    r.close();
  }
});
