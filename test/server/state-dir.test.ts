/**
 * State dir permissions at start: a key file others can read (0644) or a state dir others can
 * write is refused, naming the file and what to do, rather than silently accepted or tightened;
 * a dir only others can list is tightened to 0700 with a warning.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/server/index.js';
import { readOrCreateSecretFile } from '../../src/store/index.js';
import { tempDir } from '../helpers/gateway.js';

/** A state dir as a first gateway left it (every key file written), then stopped. */
async function preparedState(): Promise<string> {
  const dir = tempDir('cg-perms-');
  const state = join(dir, 'state');
  const gw = new Gateway({ config: parseConfig({}), stateDir: state, port: 0, logger: pino({ level: 'silent' }) });
  await gw.start();
  await gw.stop(0);
  return state;
}

const open = (state: string, lines: unknown[] = []) => new Gateway({ config: parseConfig({}), stateDir: state, port: 0, logger: pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) }) });

test('a key file left readable by others is refused at start, naming the file; nothing is tightened behind the operator\'s back', async () => {
  const state = await preparedState();
  for (const f of ['operator.token', 'audit-signing.key', 'identity-token-key.pem']) {
    const path = join(state, f);
    chmodSync(path, 0o644);
    assert.throws(() => open(state), (e: Error & { code?: string }) => e.code === 'state_insecure' && e.message.includes(`${path} is readable by group or others (mode 0644)`) && e.message.includes(`chmod 600 ${path}`), f);
    assert.equal(statSync(path).mode & 0o777, 0o644, 'left as found: the operator decides');
    chmodSync(path, 0o600);
  }
  // the master key and agent keys too (created here as an operator would have)
  writeFileSync(join(state, 'secrets-master.key'), 'x\n', { mode: 0o600 });
  chmodSync(join(state, 'secrets-master.key'), 0o640);
  mkdirSync(join(state, 'agent-keys'), { mode: 0o700 });
  writeFileSync(join(state, 'agent-keys', 'bot.key'), 'k\n');
  chmodSync(join(state, 'agent-keys', 'bot.key'), 0o666);
  assert.throws(() => open(state), (e: Error) => /secrets-master\.key is readable by group or others \(mode 0640\)/.test(e.message) && /agent-keys\/bot\.key is writable by group or others \(mode 0666\): the key may have been replaced/.test(e.message));
  chmodSync(join(state, 'secrets-master.key'), 0o600);
  chmodSync(join(state, 'agent-keys', 'bot.key'), 0o600);
  // a key file that is a symlink (to something someone else controls) is refused as well
  writeFileSync(join(state, '..', 'elsewhere.pem'), 'x', { mode: 0o600 });
  symlinkSync(join(state, '..', 'elsewhere.pem'), join(state, 'tls-key.pem'));
  assert.throws(() => open(state), /tls-key\.pem is a symbolic link/);
});

test('a state dir others can write is refused; one others can only read is tightened to 0700 with a warning', async () => {
  const state = await preparedState();
  chmodSync(state, 0o777);
  assert.throws(() => open(state), (e: Error & { code?: string }) => e.code === 'state_insecure' && e.message.includes(`the state dir ${state} is writable by others (mode 0777)`));
  chmodSync(state, 0o770);
  assert.throws(() => open(state), /is writable by its group \(mode 0770\)/);
  chmodSync(state, 0o755);
  const lines: any[] = [];
  const gw = open(state, lines);
  await gw.stop(0);
  assert.equal(statSync(state).mode & 0o777, 0o700);
  assert.ok(lines.some((l) => l.level === 40 && /was accessible to group or others \(mode 0755\); set to 0700/.test(l.msg)));
});

test('readOrCreateSecretFile refuses a secret file others can read', () => {
  const dir = tempDir('cg-secretfile-');
  const f = join(dir, 'token');
  writeFileSync(f, 'secret\n');
  chmodSync(f, 0o604);
  assert.throws(() => readOrCreateSecretFile(f, () => 'new'), /accessible to group or others \(mode 0604\)/);
  chmodSync(f, 0o600);
  assert.equal(readOrCreateSecretFile(f, () => 'new'), 'secret');
});

test('clawguard start on such a state dir exits 1 with the reason', async () => {
  const state = await preparedState();
  chmodSync(join(state, 'operator.token'), 0o644);
  const r = await new Promise<{ code: number | null; stderr: string }>((res) => {
    const p = spawn(process.execPath, ['--no-node-snapshot', resolve('bin/clawguard.js'), '--state-dir', state, 'start', '--port', '0'], { env: { ...process.env, CLAWGUARD_LOG_LEVEL: 'silent' } });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => res({ code, stderr }));
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /refusing to use the state dir .*operator\.token is readable by group or others \(mode 0644\)/s);
});
