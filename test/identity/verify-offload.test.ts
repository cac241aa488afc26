/**
 * Ed25519 verification on a worker thread while the event loop is busy: the answers are the same
 * as inline (valid accepted, every mutation refused), a worker that cannot start or is stopped
 * mid-batch leaves every job answered by a real inline verification, and an idle loop verifies
 * inline.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { ed25519Sign, ed25519Status, ed25519Verify, ed25519VerifyAsync, LoopLoad, VerifyPool } from '../../src/identity/index.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const pk = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');

function cases(n: number): Array<{ data: Buffer; sig: Buffer; valid: boolean }> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const data = Buffer.from(`"@method": POST\n"@signature-params": ("@method");created=${i};nonce="n${i}"`);
    const sig = ed25519Sign(data, privateKey);
    if (i % 3 === 1) sig[i % 64]! ^= 0x10;
    const msg = i % 3 === 2 ? Buffer.concat([data, Buffer.from('x')]) : data;
    out.push({ data: msg, sig, valid: i % 3 === 0 });
  }
  return out;
}

const inline = (data: Uint8Array, sig: Uint8Array, key: Uint8Array) => ed25519Verify(data, sig, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key).toString('base64url') }, format: 'jwk' }));

test('the worker answers a batch exactly as inline verification does', async () => {
  const pool = new VerifyPool(inline);
  try {
    const all = cases(60);
    const answers = await Promise.all(all.map((c) => pool.verify(c.data, c.sig, pk)));
    assert.deepEqual(answers, all.map((c) => c.valid));
    assert.equal(pool.offloaded, 60);
    assert.ok(pool.batches >= 1 && pool.batches < 60, `jobs of one turn go as one batch (${pool.batches} batches)`);
  } finally {
    await pool.close();
  }
});

test('a worker that cannot start: every job is still really verified, inline', async () => {
  const pool = new VerifyPool(inline, new URL('./no-such-worker.js', import.meta.url));
  try {
    const all = cases(9);
    const answers = await Promise.all(all.map((c) => pool.verify(c.data, c.sig, pk)));
    assert.deepEqual(answers, all.map((c) => c.valid));
    // and later jobs too
    assert.deepEqual(await Promise.all(all.map((c) => pool.verify(c.data, c.sig, pk))), all.map((c) => c.valid));
  } finally {
    await pool.close();
  }
});

test('stopping the worker with jobs in flight answers them inline, never with a default', async () => {
  const pool = new VerifyPool(inline);
  const all = cases(30);
  const pending = all.map((c) => pool.verify(c.data, c.sig, pk));
  await new Promise((r) => setImmediate(r));
  await pool.close();
  assert.deepEqual(await Promise.all(pending), all.map((c) => c.valid));
  assert.deepEqual(await Promise.all(all.map((c) => pool.verify(c.data, c.sig, pk))), all.map((c) => c.valid));
});

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Blocks the loop so that the sampler's next window is all busy: the first late tick still sees
 * the idle time before the spin, so spin again right after it and let the following tick run.
 */
async function saturate(): Promise<void> {
  spin(250);
  await sleep(1);
  spin(250);
  await sleep(1);
}

test('the loop counts as busy only while it is: then signatures go to the worker with the same answers', async () => {
  const load = new LoopLoad().watch();
  try {
    await sleep(250);
    assert.equal(load.busy, false, 'an idle loop is not busy');
    await saturate();
    assert.equal(load.busy, true, 'a loop kept busy for a sample period is busy');
    await sleep(250);
    assert.equal(load.busy, false, 'and idle again after');
  } finally {
    load.stop();
  }

  // The module's own monitor: keep the loop busy, then verify through the public function.
  const before = ed25519Status().offloaded.signatures;
  ed25519VerifyAsync(Buffer.from('warm'), Buffer.alloc(64), publicKey);
  await saturate();
  const all = cases(12);
  const answers = all.map((c) => ed25519VerifyAsync(c.data, c.sig, publicKey));
  assert.ok(answers.every((a) => a instanceof Promise), 'busy: answered asynchronously');
  assert.deepEqual(await Promise.all(answers), all.map((c) => c.valid));
  assert.equal(ed25519Status().offloaded.signatures - before, 12);
  assert.equal(ed25519Status().engine, 'libsodium');
});
