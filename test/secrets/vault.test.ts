import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { agent, auditText, rig } from './helpers.js';
import { startVaultLookalike, type VaultLookalike } from './lookalikes/vault.js';

// Vault cannot run here: these run against the Vault KV v2 look-alike in ./lookalikes/vault.ts.
const TOKEN = 'hvs.root-token-for-tests';
let vault: VaultLookalike;
const DEST = new URL('https://api.openai.com/v1/chat/completions');
const grant = { agents: ['worker'], allowedHosts: ['api.openai.com'] };

before(async () => {
  vault = await startVaultLookalike({ token: TOKEN, namespace: 'team-a', mounts: ['secret', 'kv-prod'] });
  vault.put('kv-prod', 'apps/openai', { api_key: 'sk-vault-v1-abcdef', org: 'org-1' });
});
after(() => vault.close());

test('token auth: KV v2 read with namespace, mount, path and field; the version is tracked', async () => {
  const r = rig({ 'api-keys': { source: 'hashiCorp-vault', address: vault.url, namespace: 'team-a', mount: 'kv-prod', path: 'apps/openai', field: 'api_key', ...grant } }, { env: { VAULT_TOKEN: TOKEN } });
  try {
    const n = vault.requests.length;
    assert.equal(await r.broker.inject(agent('worker'), 'api-keys', DEST), 'sk-vault-v1-abcdef');
    const req = vault.requests[n]!;
    assert.equal(req.path, '/v1/kv-prod/data/apps/openai');
    assert.equal(req.headers['x-vault-token'], TOKEN);
    assert.equal(req.headers['x-vault-namespace'], 'team-a');
    const s = r.broker.status().secrets[0]!;
    assert.equal(s.source, 'vault');
    assert.equal(s.sourceSpelling, 'hashiCorp-vault');
    assert.equal(s.version, '1');
    assert.equal(s.health, 'ok');
  } finally {
    r.close();
  }
});

test('VAULT_ADDR / VAULT_TOKEN / VAULT_NAMESPACE conventions; default mount "secret", path = name, field "value"', async () => {
  vault.put('secret', 'github', { value: 'ghp_vaultdefault123456' });
  const r = rig({ github: { source: 'vault', ...grant } }, { env: { VAULT_ADDR: vault.url, VAULT_TOKEN: TOKEN, VAULT_NAMESPACE: 'team-a' } });
  try {
    assert.equal(await r.broker.inject(agent('worker'), 'github', DEST), 'ghp_vaultdefault123456');
  } finally {
    r.close();
  }
});

test('AppRole: logs in once, reuses the token, logs in again when Vault stops accepting it', async () => {
  const r = rig({ k: { source: 'vault', address: vault.url, namespace: 'team-a', mount: 'kv-prod', path: 'apps/openai', field: 'api_key', cacheTtl: 1, auth: { method: 'approle', roleId: vault.approle.roleId, secretIdEnv: 'MY_SECRET_ID' }, ...grant } }, { env: { MY_SECRET_ID: vault.approle.secretId } });
  try {
    const n = vault.requests.length;
    await r.broker.inject(agent('worker'), 'k', DEST);
    r.clock.advanceSeconds(2);
    await r.broker.inject(agent('worker'), 'k', DEST);
    const logins = () => vault.requests.slice(n).filter((x) => x.path === '/v1/auth/approle/login');
    assert.equal(logins().length, 1);
    assert.deepEqual(logins()[0]!.body, { role_id: vault.approle.roleId, secret_id: vault.approle.secretId });
    vault.tokens = new Set([TOKEN]); // every AppRole token revoked
    r.clock.advanceSeconds(2);
    assert.equal(await r.broker.inject(agent('worker'), 'k', DEST), 'sk-vault-v1-abcdef');
    assert.equal(logins().length, 2);
    assert.ok(!auditText(r.audit).includes(vault.approle.secretId));
  } finally {
    r.close();
  }
});

test('Vault errors fail closed with what Vault said', async () => {
  const base = { address: vault.url, namespace: 'team-a', ...grant };
  const r = rig(
    {
      missing: { source: 'vault', mount: 'kv-prod', path: 'apps/none', ...base },
      nofield: { source: 'vault', mount: 'kv-prod', path: 'apps/openai', field: 'password', ...base },
      badtoken: { source: 'vault', mount: 'kv-prod', path: 'apps/openai', field: 'api_key', auth: { method: 'token', tokenEnv: 'WRONG_TOKEN' }, ...base },
      notoken: { source: 'vault', mount: 'kv-prod', path: 'apps/openai', auth: { method: 'token', tokenEnv: 'UNSET' }, ...base },
      badrole: { source: 'vault', mount: 'kv-prod', path: 'apps/openai', auth: { method: 'approle', roleId: 'nope' }, ...base },
      nomount: { source: 'vault', mount: 'nomount', path: 'x', ...base },
      noaddr: { source: 'vault', ...grant },
      down: { source: 'vault', address: 'http://127.0.0.1:1', ...grant },
    },
    { env: { VAULT_TOKEN: TOKEN, WRONG_TOKEN: 'hvs.wrong', VAULT_SECRET_ID: 'x' } },
  );
  const use = (n: string) => r.broker.inject(agent('worker'), n, DEST);
  try {
    await assert.rejects(use('missing'), /no secret at kv-prod\/data\/apps\/none/);
    await assert.rejects(use('nofield'), /has no field "password" \(fields: api_key, org\)/);
    await assert.rejects(use('badtoken'), /Vault answered 403: permission denied/);
    await assert.rejects(use('notoken'), /environment variable UNSET is not set/);
    await assert.rejects(use('badrole'), /AppRole login: Vault answered 400: invalid role or secret ID/);
    await assert.rejects(use('nomount'), /Vault answered 404: no handler for route/);
    await assert.rejects(use('noaddr'), /set secrets.noaddr.address or VAULT_ADDR/);
    await assert.rejects(use('down'), /unreachable/);
    vault.sealed = true;
    const sealed = rig({ s: { source: 'vault', mount: 'kv-prod', path: 'apps/openai', field: 'api_key', ...base } }, { env: { VAULT_TOKEN: TOKEN } });
    await assert.rejects(sealed.broker.inject(agent('worker'), 's', DEST), (e: any) => e.code === 'secret_unavailable' && /503: Vault is sealed/.test(e.message));
    assert.equal(sealed.broker.status().secrets[0]!.health, 'unavailable');
    sealed.close();
    for (const s of r.broker.status().secrets) assert.equal(s.health, 'unavailable', s.name);
  } finally {
    vault.sealed = false;
    r.close();
  }
});

test('rotation writes a new version from the generator (check-and-set, other fields kept); the old value stays valid through the grace period', async () => {
  vault.put('secret', 'svc/webhook', { value: 'whsec-initial-000000', note: 'keep me' });
  const r = rig({ webhook: { source: 'vault', address: vault.url, namespace: 'team-a', path: 'svc/webhook', rotation: 'daily', gracePeriod: '1h', generator: { length: 16, prefix: 'whsec_' }, ...grant } }, { env: { VAULT_TOKEN: TOKEN } });
  try {
    const first = await r.broker.inject(agent('worker'), 'webhook', DEST);
    assert.equal(first, 'whsec-initial-000000');
    const n = vault.requests.length;
    const res = await r.broker.rotate('webhook');
    assert.equal(res.mode, 'vault-write');
    assert.equal(res.previousVersion, '1');
    assert.equal(res.version, '2');
    const write = vault.requests.slice(n).find((x) => x.method === 'POST')!;
    assert.equal(write.body.options.cas, 1, 'check-and-set on the version read');
    assert.equal(write.body.data.note, 'keep me');
    assert.match(write.body.data.value, /^whsec_[A-Za-z0-9_-]{22}$/);
    const second = await r.broker.inject(agent('worker'), 'webhook', DEST);
    assert.equal(second, write.body.data.value);
    assert.equal(await r.broker.accepts('webhook', first), true, 'previous value valid during grace');
    assert.equal(await r.broker.accepts('webhook', second), true);
    r.clock.advanceSeconds(3601);
    await r.broker.tick();
    assert.equal(await r.broker.accepts('webhook', first), false, 'revoked after grace');
    assert.equal(r.audit.ofType('secret.revoke').length, 1);
    assert.equal(r.broker.redactor.redactText(`old ${first} new ${second}`), 'old [REDACTED:webhook] new [REDACTED:webhook]', 'both stay redacted');
    assert.ok(!auditText(r.audit).includes(second) && !auditText(r.audit).includes(first));
  } finally {
    r.close();
  }
});

test('read-only Vault entries are re-read: a new version written elsewhere is noticed, with Vault\'s created_time as its age', async () => {
  vault.put('secret', 'ro', { value: 'readonly-v1-aaaaaaaa' });
  const r = rig({ ro: { source: 'vault', address: vault.url, namespace: 'team-a', cacheTtl: 60, ...grant } }, { env: { VAULT_TOKEN: TOKEN } });
  try {
    assert.equal(await r.broker.inject(agent('worker'), 'ro', DEST), 'readonly-v1-aaaaaaaa');
    assert.equal(r.broker.status().secrets[0]!.rotationMode, 'reread');
    vault.put('secret', 'ro', { value: 'readonly-v2-bbbbbbbb' });
    assert.equal(await r.broker.inject(agent('worker'), 'ro', DEST), 'readonly-v1-aaaaaaaa', 'cached until the TTL ends');
    r.clock.advanceSeconds(61);
    assert.equal(await r.broker.inject(agent('worker'), 'ro', DEST), 'readonly-v2-bbbbbbbb');
    const s = r.broker.status().secrets[0]!;
    assert.equal(s.version, '2');
    assert.ok(Math.abs(Date.parse(s.lastRotation!) - Date.parse(vault.kv.get('secret')!.get('ro')![1]!.created_time)) < 1000);
  } finally {
    r.close();
  }
});
