/**
 * The Ed25519 engine behind request signatures (libsodium when it loads, else OpenSSL) against
 * OpenSSL itself: same signatures (Ed25519 is deterministic), same verdicts on mutated messages
 * and signatures, RFC 8032 vectors, and libsodium's extra strictness on small-order keys.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import { contentDigest, ed25519Engine, ed25519Sign, ed25519Verify, verifyContentDigest } from '../../src/identity/index.js';
import { mulberry32 } from '../helpers/prng.js';

test('libsodium is the engine here (the addon ships prebuilt for this platform)', () => {
  assert.equal(ed25519Engine, 'libsodium');
});

test('RFC 8032 §7.1 test 1 and test 3: the published signatures verify; a flipped bit does not', () => {
  const vectors = [
    { pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', msg: '', sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b' },
    { pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', msg: 'af82', sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a' },
  ];
  for (const v of vectors) {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(v.pk, 'hex').toString('base64url') }, format: 'jwk' });
    const msg = Buffer.from(v.msg, 'hex');
    const sig = Buffer.from(v.sig, 'hex');
    assert.equal(ed25519Verify(msg, sig, key), true);
    const bad = Buffer.from(sig);
    bad[10]! ^= 1;
    assert.equal(ed25519Verify(msg, bad, key), false);
    assert.equal(ed25519Verify(Buffer.concat([msg, Buffer.from([0])]), sig, key), false);
  }
});

test('signing gives byte-for-byte what OpenSSL gives, and the verdicts agree on 2,000 mutated cases', () => {
  const rng = mulberry32(0xed25519);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519').publicKey;
  let agreedFalse = 0;
  for (let i = 0; i < 2000; i++) {
    const msg = Buffer.alloc(Math.floor(rng() * 300));
    for (let j = 0; j < msg.length; j++) msg[j] = Math.floor(rng() * 256);
    const sig = ed25519Sign(msg, privateKey);
    assert.deepEqual(sig, sign(null, msg, privateKey));
    const m = Buffer.from(msg);
    const s = Buffer.from(sig);
    const what = i % 4;
    if (what === 0 && m.length) m[Math.floor(rng() * m.length)]! ^= 1 << Math.floor(rng() * 8);
    else if (what === 1) s[Math.floor(rng() * 64)]! ^= 1 << Math.floor(rng() * 8);
    const key = what === 2 ? other : publicKey;
    const ours = ed25519Verify(m, s, key);
    assert.equal(ours, verify(null, m, key, s), `case ${i}`);
    if (!ours) agreedFalse++;
  }
  assert.ok(agreedFalse > 1200, `most mutated cases are refused (${agreedFalse})`);
});

test('wrong lengths, non-Ed25519 keys and small-order public keys are refused, never thrown', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const msg = Buffer.from('hello');
  const sig = ed25519Sign(msg, privateKey);
  assert.equal(ed25519Verify(msg, sig.subarray(0, 63), publicKey), false);
  assert.equal(ed25519Verify(msg, Buffer.concat([sig, Buffer.from([0])]), publicKey), false);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  assert.equal(ed25519Verify(msg, sig, ec), false);
  // The identity point (small order): with R = identity and S = 0 the equation holds for any
  // message under a lax verifier; libsodium refuses the key.
  const identity = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(`01${'00'.repeat(31)}`, 'hex').toString('base64url') }, format: 'jwk' });
  const forged = Buffer.concat([Buffer.from(`01${'00'.repeat(31)}`, 'hex'), Buffer.alloc(32)]);
  assert.equal(ed25519Verify(msg, forged, identity), false);
});

test('without the addon (CLAWGUARD_ED25519=openssl) the OpenSSL engine signs and verifies the same', () => {
  const script = `
    const m = await import(${JSON.stringify(new URL('../../src/identity/index.js', import.meta.url).href)});
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const sig = m.ed25519Sign(Buffer.from('x'), privateKey);
    const ok = m.ed25519Verify(Buffer.from('x'), sig, publicKey);
    const bad = m.ed25519Verify(Buffer.from('y'), sig, publicKey);
    process.stdout.write(JSON.stringify({ engine: m.ed25519Engine, ok, bad }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, CLAWGUARD_ED25519: 'openssl' } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { engine: 'openssl', ok: true, bad: false });
});

test('Content-Digest: the one-member fast path and the general parser give the same verdicts', () => {
  const body = Buffer.from('{"hello": "world"}\n');
  for (const alg of ['sha-256', 'sha-512'] as const) {
    const field = contentDigest(body, alg);
    assert.deepEqual(verifyContentDigest(field, body), [alg]);
    // the same member with a second, unknown one goes through the general parser
    assert.deepEqual(verifyContentDigest(`${field}, md5=:AAAA:`, body), [alg]);
    assert.throws(() => verifyContentDigest(field, Buffer.from('{"hello": "World"}\n')), { code: 'digest_mismatch' });
    assert.throws(() => verifyContentDigest(`${field}, md5=:AAAA:`, Buffer.from('x')), { code: 'digest_mismatch' });
  }
  assert.throws(() => verifyContentDigest('sha-256=:AAAA:', body), { code: 'digest_mismatch' }, 'wrong length');
  assert.throws(() => verifyContentDigest('sha-256=:not base64!:', body), { code: 'malformed_signature' });
  assert.throws(() => verifyContentDigest('sha-256="text"', body), { code: 'malformed_signature' });
});
