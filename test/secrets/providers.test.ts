import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { masterKeyPaths, parsePointer, resolvePointer } from '../../src/secrets/index.js';
import { agent, auditText, rig, tempDir } from './helpers.js';

const DEST = new URL('https://api.example.com/v1');
const grant = { agents: ['worker'], allowedHosts: ['api.example.com'] };
const use = (r: ReturnType<typeof rig>, name: string) => r.broker.inject(agent('worker'), name, DEST);

/** Every byte the store wrote to disk (database, WAL, shared memory). */
function diskBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('clawguard.db')).map((f) => readFileSync(join(dir, f))));
}

test('local: values are sealed with AES-256-GCM under a 0600 master key file; nothing in plaintext on disk', async () => {
  const r = rig({ db: { source: 'local', ...grant } });
  try {
    const value = `pg-password-${randomBytes(12).toString('hex')}`;
    const res = await r.broker.set('db', value);
    assert.equal(res.version, '1');
    assert.equal(await use(r, 'db'), value);
    const key = masterKeyPaths(r.dir).plain;
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(key, 'utf8').trim(), 'base64').length, 32);
    r.store.db.pragma('wal_checkpoint(TRUNCATE)');
    const disk = diskBytes(r.dir);
    for (const form of [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex')]) assert.equal(disk.includes(Buffer.from(form)), false, `${form} found on disk`);
    const row = r.store.db.prepare("SELECT enc, length(iv) AS iv, length(tag) AS tag FROM secret_values WHERE name = 'db'").get() as { enc: string; iv: number; tag: number };
    assert.deepEqual(row, { enc: 'aes-gcm', iv: 12, tag: 16 });
    assert.ok(!auditText(r.audit).includes(value), 'audit never carries the value');
  } finally {
    r.close();
  }
});

test('local: CLAWGUARD_MASTER_KEY wins; the wrong key or a tampered row fails closed', async () => {
  const dir = tempDir('cg-mk-');
  const k1 = randomBytes(32).toString('base64');
  const a = rig({ db: { source: 'local', ...grant } }, { dir, env: { CLAWGUARD_MASTER_KEY: k1 } });
  await a.broker.set('db', 'value-under-env-key');
  a.close();
  assert.equal(existsSync(masterKeyPaths(dir).plain), false, 'no key file when the key comes from the environment');

  const wrong = rig({ db: { source: 'local', ...grant } }, { dir, env: { CLAWGUARD_MASTER_KEY: randomBytes(32).toString('hex') } });
  await assert.rejects(use(wrong, 'db'), (e: any) => e.code === 'secret_unavailable' && /cannot be decrypted/.test(e.message));
  assert.equal(wrong.broker.status().secrets[0]!.health, 'unavailable');
  wrong.close();

  const bad = rig({ db: { source: 'local', ...grant } }, { dir, env: { CLAWGUARD_MASTER_KEY: 'too-short' } });
  await assert.rejects(use(bad, 'db'), /CLAWGUARD_MASTER_KEY: expected 32 bytes/);
  assert.equal(bad.broker.status().masterKey.available, false);
  bad.close();

  const ok = rig({ db: { source: 'local', ...grant } }, { dir, env: { CLAWGUARD_MASTER_KEY: k1 } });
  assert.equal(await use(ok, 'db'), 'value-under-env-key');
  // Flip one ciphertext bit: GCM authentication fails, the value is refused.
  ok.store.db.prepare("UPDATE secret_values SET ciphertext = X'00' || substr(ciphertext, 2) WHERE name = 'db'").run();
  const again = rig({ db: { source: 'local', ...grant } }, { dir, env: { CLAWGUARD_MASTER_KEY: k1 } });
  await assert.rejects(use(again, 'db'), /cannot be decrypted/);
  again.close();
  ok.close();
});

test('local: without a value the secret is unavailable and says how to set it; a generator makes one', async () => {
  const r = rig({ empty: { source: 'local', ...grant }, gen: { source: 'local', generator: { length: 24, prefix: 'cg_' }, ...grant } });
  try {
    await assert.rejects(use(r, 'empty'), (e: any) => e.code === 'secret_unavailable' && /clawguard secrets set empty/.test(e.message));
    const v = await use(r, 'gen');
    assert.match(v, /^cg_[A-Za-z0-9_-]{32}$/);
    assert.equal(await use(r, 'gen'), v, 'stable until rotated');
    await assert.rejects(r.broker.set('nope', 'x'), (e: any) => e.code === 'not_found');
  } finally {
    r.close();
  }
});

test('env: the named variable, or the upper-cased secret name; missing is unavailable', async () => {
  const r = rig({ 'openai-key': { source: 'env', ...grant }, named: { source: 'env', env: 'MY_TOKEN', ...grant }, absent: { source: 'env', ...grant } }, { env: { OPENAI_KEY: 'sk-from-env-1234', MY_TOKEN: 'tok-5678-abcdef' } });
  try {
    assert.equal(await use(r, 'openai-key'), 'sk-from-env-1234');
    assert.equal(await use(r, 'named'), 'tok-5678-abcdef');
    await assert.rejects(use(r, 'absent'), /environment variable ABSENT .* is not set/);
  } finally {
    r.close();
  }
});

test('JSON pointers follow RFC 6901', () => {
  const doc = { 'a/b': { 'm~n': ['zero', 'one'] }, '': 'empty key' };
  assert.deepEqual(parsePointer('/a~1b/m~0n/1'), ['a/b', 'm~n', '1']);
  assert.equal(resolvePointer(doc, '/a~1b/m~0n/1'), 'one');
  assert.equal(resolvePointer(doc, '/'), 'empty key');
  assert.equal(resolvePointer(doc, '/a~1b/m~0n/2'), undefined);
  assert.equal(resolvePointer(doc, '/a~1b/m~0n/01'), undefined, 'no leading zeros');
  assert.throws(() => parsePointer('a/b'), /must start with/);
  assert.throws(() => parsePointer('/a~2'), /~/);
});

test('file: a JSON pointer into a 0600 file; group/world-readable files are refused', async () => {
  const dir = tempDir('cg-file-');
  const f = join(dir, 'secrets.json');
  writeFileSync(f, JSON.stringify({ providers: { openai: { apiKey: 'sk-file-abcdef123456' } }, list: ['x', 42] }), { mode: 0o600 });
  const single = join(dir, 'token.txt');
  writeFileSync(single, 'single-file-token-value\n', { mode: 0o600 });
  const r = rig({
    openai: { source: 'file', file: f, pointer: '/providers/openai/apiKey', ...grant },
    whole: { source: 'file', file: single, ...grant },
    missing: { source: 'file', file: f, pointer: '/providers/anthropic/apiKey', ...grant },
    number: { source: 'file', file: f, pointer: '/list/1', ...grant },
  });
  try {
    assert.equal(await use(r, 'openai'), 'sk-file-abcdef123456');
    assert.equal(await use(r, 'whole'), 'single-file-token-value');
    await assert.rejects(use(r, 'missing'), /nothing at JSON pointer \/providers\/anthropic\/apiKey/);
    await assert.rejects(use(r, 'number'), /is not a string/);
    chmodSync(single, 0o644);
    r.clock.advanceSeconds(301); // past the cache TTL: re-read
    await assert.rejects(use(r, 'whole'), (e: any) => e.code === 'secret_unavailable' && /readable by group or others \(mode 644\)/.test(e.message));
    chmodSync(single, 0o620);
    await assert.rejects(use(r, 'whole'), /writable by group or others/);
  } finally {
    r.close();
  }
});

/** The real resolver program, copied into a private directory so its mode is exactly ours. */
function resolver(): { path: string; store: string; dir: string } {
  const dir = tempDir('cg-exec-');
  const path = join(dir, 'resolver.mjs');
  copyFileSync(resolve('test/secrets/fixtures/resolver.mjs'), path);
  chmodSync(path, 0o755);
  const store = join(dir, 'store.json');
  writeFileSync(store, JSON.stringify({ 'providers/openai': 'sk-exec-0987654321', other: 'x' }), { mode: 0o600 });
  return { path, store, dir };
}

test('exec: a real resolver over OpenClaw exec protocol v1, without a shell, with per-id errors', async () => {
  const x = resolver();
  const marker = join(x.dir, 'pwned');
  const r = rig(
    {
      openai: { source: 'exec', command: x.path, args: ['--store', x.store], id: 'providers/openai', ...grant },
      unknown: { source: 'exec', command: x.path, args: ['--store', x.store], id: 'providers/none', ...grant },
      echo: { source: 'exec', command: x.path, args: ['--mode', 'echo-args', `$(touch ${marker})`, '; rm -rf /'], passEnv: ['RESOLVER_TOKEN'], ...grant },
      relative: { source: 'exec', command: 'resolver.mjs', ...grant },
    },
    { env: { PATH: process.env.PATH, RESOLVER_TOKEN: 'rt', GATEWAY_ONLY: 'must-not-leak' } },
  );
  try {
    assert.equal(await use(r, 'openai'), 'sk-exec-0987654321');
    await assert.rejects(use(r, 'unknown'), (e: any) => e.code === 'secret_unavailable' && /id "providers\/none": NOT_FOUND: no such id/.test(e.message));
    const echoed = JSON.parse(await use(r, 'echo'));
    assert.deepEqual(echoed.args, ['--mode', 'echo-args', `$(touch ${marker})`, '; rm -rf /'], 'arguments arrive verbatim: no shell');
    assert.equal(existsSync(marker), false);
    assert.equal(echoed.provider, 'echo');
    // Node itself copies NODE_V8_COVERAGE into every child while coverage is being collected (npm test).
    assert.deepEqual(echoed.env.filter((k: string) => !k.startsWith('__CF') && k !== 'NODE_V8_COVERAGE'), ['PATH', 'RESOLVER_TOKEN'], 'only PATH and passEnv reach the resolver');
    await assert.rejects(use(r, 'relative'), /command must be an absolute path/);
  } finally {
    r.close();
  }
});

test('exec: timeout, output cap, bad output and failure exits all fail closed', async () => {
  const x = resolver();
  const r = rig({
    hang: { source: 'exec', command: x.path, args: ['--mode', 'hang'], timeoutMs: 300, ...grant },
    flood: { source: 'exec', command: x.path, args: ['--mode', 'flood'], maxOutputBytes: 10_000, ...grant },
    garbage: { source: 'exec', command: x.path, args: ['--mode', 'garbage'], ...grant },
    fail: { source: 'exec', command: x.path, args: ['--mode', 'fail'], ...grant },
    writable: { source: 'exec', command: x.path, ...grant },
  }, { env: { PATH: process.env.PATH } });
  try {
    await assert.rejects(use(r, 'hang'), /timed out after 300 ms and was killed/);
    await assert.rejects(use(r, 'flood'), /output exceeded 10000 bytes/);
    await assert.rejects(use(r, 'garbage'), /stdout is not JSON/);
    await assert.rejects(use(r, 'fail'), /exited with code 3: resolver: vault is sealed/);
    chmodSync(x.path, 0o757);
    await assert.rejects(use(r, 'writable'), /world-writable; refusing/);
    const st = r.broker.status().secrets.find((s) => s.name === 'hang')!;
    assert.equal(st.health, 'unavailable');
    assert.match(st.reason!, /timed out/);
  } finally {
    r.close();
  }
});
