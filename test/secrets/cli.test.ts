import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { SecretsBroker } from '../../src/secrets/index.js';
import { openStore } from '../../src/store/index.js';
import { startGateway } from '../helpers/gateway.js';
import { agent, MemoryAudit, tempDir } from './helpers.js';

const BIN = resolve('bin/clawguard.js');

function cli(args: string[], o: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: o.input ?? '', env: { ...process.env, ...o.env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking this process (which may host the gateway the CLI talks to). */
function cliAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => res({ code, stdout, stderr }));
  });
}

function project() {
  const dir = tempDir('cg-secrets-cli-');
  const config = join(dir, 'clawguard.json');
  writeFileSync(
    config,
    JSON.stringify({
      secrets: {
        db: { source: 'local', agents: ['openclaw-main'], allowedHosts: ['db.internal'] },
        hook: { source: 'local', rotation: 'weekly', generator: { prefix: 'whsec_' }, agents: ['ops'] },
        envkey: { source: 'env', env: 'CG_CLI_ENVKEY', agents: ['openclaw-main'], allowedHosts: ['api.example.com'] },
        denied: { source: 'env', env: 'CG_CLI_ENVKEY', agents: ['someone-else'] },
      },
    }),
  );
  const state = join(dir, 'state');
  return { dir, config, state, g: ['--config', config, '--state-dir', state] };
}

test('secrets set reads the value from stdin (never argv); list shows metadata only; rotate; the CLI audit trail has no values', () => {
  const p = project();
  const value = 'cli-db-password-Zq9!x';
  const set = cli([...p.g, 'secrets', 'set', 'db', '--json'], { input: `${value}\n` });
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual([JSON.parse(set.stdout).version, JSON.parse(set.stdout).changed], ['1', true]);
  assert.ok(!set.stdout.includes(value) && !set.stderr.includes(value));
  const again = cli([...p.g, 'secrets', 'set', 'db'], { input: 'second-value-abcdef' });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /stored db: manual — version 1 → 2; the previous value stays valid until/);
  const empty = cli([...p.g, 'secrets', 'set', 'db'], { input: '' });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no value on stdin/);
  const notLocal = cli([...p.g, 'secrets', 'set', 'envkey'], { input: 'x-value-123456' });
  assert.equal(notLocal.code, 1);
  assert.match(notLocal.stderr, /only local secrets are stored by clawguard/);
  assert.equal(cli([...p.g, 'secrets', 'set', 'nope'], { input: 'x-value-123456' }).code, 1);

  const list = cli([...p.g, 'secrets', 'list', '--json'], { env: { CG_CLI_ENVKEY: 'env-key-value-999' } });
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(rows.map((r) => r.name), ['db', 'denied', 'envkey', 'hook']);
  assert.equal(rows.find((r) => r.name === 'db')!.version, '2');
  assert.ok(!list.stdout.includes(value) && !list.stdout.includes('second-value'));
  const table = cli([...p.g, 'secrets', 'list']);
  assert.match(table.stdout, /^SECRET\s+SOURCE\s+HEALTH\s+ROTATION/m);
  assert.match(table.stdout, /^hook\s+local\s+unknown\s+weekly/m);

  const rot = cli([...p.g, 'secrets', 'rotate', 'hook', '--json']);
  assert.equal(rot.code, 0, rot.stderr);
  assert.equal(JSON.parse(rot.stdout).mode, 'generate');
  const manual = cli([...p.g, 'secrets', 'rotate', 'db']);
  assert.equal(manual.code, 1);
  assert.match(manual.stderr, /has no generator/);

  const auditFile = join(p.state, 'secrets-audit.jsonl');
  assert.equal(statSync(auditFile).mode & 0o777, 0o600);
  const audit = readFileSync(auditFile, 'utf8');
  assert.match(audit, /"type":"secret.set"/);
  assert.match(audit, /"type":"secret.rotate"/);
  assert.ok(!audit.includes(value) && !audit.includes('second-value') && !audit.includes('whsec_'));
});

test('secrets resolve speaks OpenClaw exec protocol v1: values for granted ids, ACCESS_DENIED / NOT_FOUND per id', () => {
  const p = project();
  assert.equal(cli([...p.g, 'secrets', 'set', 'db'], { input: 'resolved-db-password' }).code, 0);
  const req = { protocolVersion: 1, provider: 'clawguard', ids: ['db', 'envkey', 'denied', 'missing', 'db'] };
  const r = cli([...p.g, 'secrets', 'resolve', '--agent', 'openclaw-main'], { input: JSON.stringify(req), env: { CG_CLI_ENVKEY: 'env-key-value-999' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const res = JSON.parse(r.stdout);
  assert.equal(res.protocolVersion, 1);
  assert.deepEqual(res.values, { db: 'resolved-db-password', envkey: 'env-key-value-999' });
  assert.equal(res.errors.denied.code, 'ACCESS_DENIED');
  assert.match(res.errors.denied.message, /not granted secret "denied"/);
  assert.deepEqual(res.errors.missing, { code: 'NOT_FOUND', message: 'no secret named "missing"' });
  const audit = readFileSync(join(p.state, 'secrets-audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const uses = audit.filter((e) => e.type === 'secret.use');
  assert.deepEqual(uses.map((u) => [u.agentId, u.payload.secret, u.decision]), [['openclaw-main', 'db', 'allow'], ['openclaw-main', 'envkey', 'allow'], ['openclaw-main', 'denied', 'deny'], ['openclaw-main', 'missing', 'deny']]);
  assert.ok(!JSON.stringify(audit).includes('resolved-db-password'));
  const bad = cli([...p.g, 'secrets', 'resolve', '--agent', 'x'], { input: '{"protocolVersion":2,"ids":[]}' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /protocolVersion must be 1/);
  assert.equal(cli([...p.g, 'secrets', 'resolve'], { input: '{}' }).code, 2, '--agent is required');
});

test('one clawguard as another one\'s exec resolver (how an OpenClaw exec provider entry uses it)', async () => {
  const p = project();
  assert.equal(cli([...p.g, 'secrets', 'set', 'db'], { input: 'chained-value-7777' }).code, 0);
  const dir = tempDir('cg-secrets-chain-');
  const config = parseConfig({ secrets: { db: { source: 'exec', command: process.execPath, args: [BIN, ...p.g, 'secrets', 'resolve', '--agent', 'openclaw-main'], timeoutMs: 30_000, agents: ['w'], allowedHosts: ['db.internal'] } } });
  const store = openStore(dir);
  const broker = new SecretsBroker({ secrets: config.secrets, db: store.db, stateDir: dir, audit: new MemoryAudit(), authorize: async () => ({ effect: 'allow', reasons: [] }), env: { PATH: process.env.PATH } });
  try {
    assert.equal(await broker.inject(agent('w'), 'db', new URL('https://db.internal/')), 'chained-value-7777');
  } finally {
    broker.stop();
    store.close();
  }
});

test('clawguard status --secrets shows the running gateway\'s secrets table and JSON', async () => {
  process.env.CG_CLI_STATUS_KEY = 'status-key-value-000';
  const g = await startGateway({ secrets: { k: { source: 'env', env: 'CG_CLI_STATUS_KEY', rotation: 'daily', agents: ['a'] }, gone: { source: 'env', env: 'CG_CLI_UNSET_VAR' } } });
  try {
    const args = ['--state-dir', join(g.dir, 'state'), 'status', '--secrets'];
    const t = await cliAsync(args);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^k\s+env\s+ok\s+daily\s+1\s/m);
    assert.match(t.stdout, /^gone\s+env\s+UNAVAILABLE/m);
    assert.match(t.stdout, /gone: environment variable CG_CLI_UNSET_VAR \(secrets.gone\) is not set/);
    const j = await cliAsync([...args, '--json']);
    const s = JSON.parse(j.stdout);
    assert.deepEqual(s.secrets.map((x: { name: string }) => x.name), ['gone', 'k']);
    assert.ok(!j.stdout.includes('status-key-value-000'));
    const list = await cliAsync(['--state-dir', join(g.dir, 'state'), 'secrets', 'list', '--json']);
    assert.equal(JSON.parse(list.stdout).find((x: { name: string }) => x.name === 'k').health, 'ok', 'list asks the running gateway');
  } finally {
    await g.close();
  }
});
