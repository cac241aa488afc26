import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { createAgentClient, generateEd25519, publicKeyPem } from '../../src/identity/index.js';
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js';
import { TOOLS_PROFILE } from './helpers.js';

const BIN = resolve('bin/clawguard.js');
let g: TestGateway;
before(async () => {
  g = await startGateway({ agents: { tools: TOOLS_PROFILE } });
});
after(async () => g?.close());

/** Runs the real CLI (async, so the in-process gateway keeps serving). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, '--state-dir', g.gw.opts.stateDir, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => res({ code, stdout, stderr }));
  });
}

test('agents keygen / list / show / revoke, and identity tokens, through the CLI', async () => {
  const out = tempDir('cg-keys-');
  const kg = await cli(['agents', 'keygen', '--id', 'cli-agent', '--trust-level', 'trusted', '--capabilities', 'time,clock', '--expires', '30d', '--profile', 'tools', '--out', out, '--json']);
  assert.equal(kg.code, 0, kg.stderr);
  const made = JSON.parse(kg.stdout);
  assert.equal(made.agentId, 'cli-agent');
  assert.equal(made.trustLevel, 'trusted');
  assert.deepEqual(made.capabilities, ['time', 'clock']);
  assert.ok(Date.parse(made.expires) - Date.now() > 29 * 86400_000);
  assert.equal(statSync(made.privateKeyFile).mode & 0o777, 0o600, 'private key file mode 0600');
  // The generated key really is the agent's key.
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'cli-agent', privateKey: readFileSync(made.privateKeyFile, 'utf8') });
  assert.equal((await c.callTool('system.time')).ok, true);
  await c.close();
  const again = await cli(['agents', 'keygen', '--id', 'cli-agent', '--out', out]);
  assert.equal(again.code, 1, 'refuses to overwrite a key');

  const pubFile = join(out, 'ext.pub');
  writeFileSync(pubFile, publicKeyPem(generateEd25519().publicKey));
  const reg = await cli(['agents', 'register', '--id', 'external', '--public-key', pubFile]);
  assert.equal(reg.code, 0, reg.stderr);
  assert.match(reg.stdout, /registered external \(limited/);
  const dup = await cli(['agents', 'register', '--id', 'external', '--public-key', pubFile]);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already registered/);
  assert.equal((await cli(['agents', 'register', '--id', 'x', '--public-key', join(out, 'missing.pub')])).code, 2);

  const list = await cli(['agents', 'list']);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^cli-agent\s+active\s+trusted\s+tools/m);
  assert.match(list.stdout, /^external\s+active\s+limited/m);
  const show = await cli(['agents', 'show', 'cli-agent', '--json']);
  assert.equal(JSON.parse(show.stdout).fingerprint, made.fingerprint);
  const rev = await cli(['agents', 'revoke', 'external', '--reason', 'rotated out']);
  assert.equal(rev.code, 0, rev.stderr);
  assert.match(rev.stdout, /revoked external/);
  assert.equal(JSON.parse((await cli(['agents', 'show', 'external', '--json'])).stdout).status, 'revoked');

  const tok = await cli(['identity', 'tokens', 'create', '--scope', 'read', '--name', 'dashboard', '--json']);
  assert.equal(tok.code, 0, tok.stderr);
  const t = JSON.parse(tok.stdout);
  const asReader = await cli(['agents', 'list'], { CLAWGUARD_TOKEN: t.token });
  assert.equal(asReader.code, 1);
  assert.match(asReader.stderr, /needs admin/);
  const runsAsReader = await cli(['runs', 'list'], { CLAWGUARD_TOKEN: t.token });
  assert.equal(runsAsReader.code, 0, runsAsReader.stderr);
  assert.match((await cli(['identity', 'tokens', 'list'])).stdout, /dashboard/);
  assert.equal((await cli(['identity', 'tokens', 'revoke', t.id])).code, 0);
  assert.equal((await cli(['runs', 'list'], { CLAWGUARD_TOKEN: t.token })).code, 1);
});
