import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, type JsonWebKey, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { calculateJwkThumbprint } from 'jose';
import { contentDigest, GATEWAY_COVERAGE, importPrivateKey, importPublicKey, keyThumbprint, parseRawRequest, signatureBase, signRequest, parseSignatureFields, verifyContentDigest, verifyRequest, type RequiredCoverage, type SignedRequest } from '../../src/identity/index.js';
import { tempDir } from '../helpers/gateway.js';
import { B26_BASE, B26_COMPONENTS, B26_CREATED, B26_SIGNATURE, B26_SIGNATURE_INPUT, B2_BODY, B2_HEADERS, B2_SHA256, B2_SHA512, B2_TARGET, b26RawRequest, TEST_KEY_ED25519 } from './rfc-vectors.js';

const BIN = resolve('bin/clawguard.js');
const B26_REQUIRE: RequiredCoverage = { components: B26_COMPONENTS, params: ['created', 'keyid'], digestWhenBody: false };
const request = (extra: Array<[string, string]> = []): SignedRequest => ({
  method: 'POST',
  targetUri: B2_TARGET,
  headers: [...B2_HEADERS, ...extra, ['Signature-Input', B26_SIGNATURE_INPUT], ['Signature', B26_SIGNATURE]],
  body: Buffer.from(B2_BODY),
});
const verifyB26 = (msg: SignedRequest, now = B26_CREATED) =>
  verifyRequest(msg, { now, skewSeconds: 60, required: B26_REQUIRE, resolveKey: (k) => (k === TEST_KEY_ED25519.keyid ? { key: importPublicKey(TEST_KEY_ED25519.publicPem) } : assert.fail(`unexpected keyid ${k}`)) });

test('B.1.4 key material: PEM and JWK forms are the same Ed25519 key pair', () => {
  const pub = importPublicKey(TEST_KEY_ED25519.publicPem);
  assert.equal((pub.export({ format: 'jwk' }) as JsonWebKey).x, TEST_KEY_ED25519.jwk.x);
  const priv = importPrivateKey(TEST_KEY_ED25519.privatePem);
  const privJwk = priv.export({ format: 'jwk' }) as JsonWebKey;
  assert.equal(privJwk.d, TEST_KEY_ED25519.jwk.d);
  assert.equal(privJwk.x, TEST_KEY_ED25519.jwk.x, 'the private key derives the published public key');
  assert.equal((createPublicKey(importPrivateKey(TEST_KEY_ED25519.jwk)).export({ format: 'jwk' }) as JsonWebKey).x, TEST_KEY_ED25519.jwk.x);
  assert.equal(importPublicKey({ kty: 'OKP', crv: 'Ed25519', x: TEST_KEY_ED25519.jwk.x }).export({ type: 'spki', format: 'pem' }).toString(), TEST_KEY_ED25519.publicPem);
  assert.equal(importPublicKey(Buffer.from(TEST_KEY_ED25519.jwk.x, 'base64url').toString('hex')).equals(pub), true, 'raw 32 bytes in hex');
});

test('RFC 7638 thumbprint of the test key agrees with jose', async () => {
  assert.equal(keyThumbprint(importPublicKey(TEST_KEY_ED25519.publicPem)), await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: TEST_KEY_ED25519.jwk.x }, 'sha256'));
});

test('B.2 test request: Content-Digest sha-512 (and sha-256) of the body match (RFC 9530)', () => {
  assert.equal(contentDigest(Buffer.from(B2_BODY), 'sha-512'), B2_SHA512);
  assert.equal(contentDigest(Buffer.from(B2_BODY), 'sha-256'), B2_SHA256);
  assert.deepEqual(verifyContentDigest(B2_SHA512, Buffer.from(B2_BODY)), ['sha-512']);
  assert.deepEqual(verifyContentDigest(`${B2_SHA256}, ${B2_SHA512}`, Buffer.from(B2_BODY)), ['sha-256', 'sha-512']);
  assert.throws(() => verifyContentDigest(B2_SHA512, Buffer.from('{"hello": "World"}')), { code: 'digest_mismatch' });
  assert.throws(() => verifyContentDigest(`${B2_SHA256}, sha-512=:AAAA:`, Buffer.from(B2_BODY)), { code: 'digest_mismatch' }, 'every supported member must match');
  assert.throws(() => verifyContentDigest('md5=:AAAA:', Buffer.from(B2_BODY)), { code: 'digest_mismatch' });
  assert.throws(() => verifyContentDigest('sha-256=X', Buffer.from(B2_BODY)), { code: 'malformed_signature' });
});

test('B.2.6: the signature base is rebuilt byte for byte', () => {
  const p = parseSignatureFields(B26_SIGNATURE_INPUT, B26_SIGNATURE);
  assert.equal(p.label, 'sig-b26');
  assert.deepEqual(p.params, { created: B26_CREATED, keyid: 'test-key-ed25519' });
  assert.equal(signatureBase(request(), p.covered, p.signatureParams), B26_BASE);
});

test('B.2.6: the published signature verifies; Ed25519 being deterministic, signing reproduces it exactly', () => {
  const r = verifyB26(request());
  assert.equal(r.keyid, 'test-key-ed25519');
  assert.deepEqual(r.covered, B26_COMPONENTS.map((c) => JSON.stringify(c)));
  assert.deepEqual(r.digest, ['sha-512']);
  assert.equal(sign(null, Buffer.from(B26_BASE), importPrivateKey(TEST_KEY_ED25519.privatePem)).toString('base64'), B26_SIGNATURE.slice('sig-b26=:'.length, -1));
  const fields = signRequest(request(), { keyid: 'test-key-ed25519', privateKey: importPrivateKey(TEST_KEY_ED25519.jwk), label: 'sig-b26', components: B26_COMPONENTS, params: [['created', B26_CREATED], ['keyid', 'test-key-ed25519']] });
  assert.equal(fields.signatureInput, B26_SIGNATURE_INPUT);
  assert.equal(fields.signature, B26_SIGNATURE);
  assert.equal(fields.base, B26_BASE);
});

test('B.2.6: any change to a covered part is refused, each with its reason', () => {
  const tamper = (m: Partial<SignedRequest>) => ({ ...request(), ...m });
  assert.throws(() => verifyB26(tamper({ method: 'PUT' })), { code: 'bad_signature' });
  assert.throws(() => verifyB26(tamper({ targetUri: 'https://example.com/fooo?param=Value&Pet=dog' })), { code: 'bad_signature' });
  assert.throws(() => verifyB26(tamper({ targetUri: 'https://example.org/foo?param=Value&Pet=dog' })), { code: 'bad_signature' });
  assert.throws(() => verifyB26(tamper({ headers: request().headers.map(([k, v]) => [k, k === 'Date' ? 'Tue, 20 Apr 2021 02:07:56 GMT' : v] as const) })), { code: 'bad_signature' });
  assert.throws(() => verifyB26(tamper({ headers: request().headers.filter(([k]) => k !== 'Date') })), { code: 'missing_component' });
  assert.throws(() => verifyB26(tamper({ body: Buffer.from('{"hello": "World"}') })), { code: 'digest_mismatch' });
  assert.throws(() => verifyB26(request(), B26_CREATED + 61), { code: 'clock_skew' });
  assert.throws(() => verifyB26(request(), B26_CREATED - 10), { code: 'clock_skew' }, 'created in the future');
  assert.throws(() => verifyRequest(request(), { now: B26_CREATED, skewSeconds: 60, required: GATEWAY_COVERAGE, resolveKey: () => ({ key: importPublicKey(TEST_KEY_ED25519.publicPem) }) }), { code: 'missing_component' }, 'the gateway policy also needs a nonce and @target-uri');
  // The non-covered query is not protected by this signature (it covers @path, not @query).
  assert.equal(verifyB26(tamper({ targetUri: 'https://example.com/foo?param=Other' })).label, 'sig-b26');
});

test('§2.2: derived components of the RFC examples', () => {
  const base = (targetUri: string, components: string, method = 'POST') => {
    const p = parseSignatureFields(`s=(${components});created=1`, 's=:AAAA:');
    return signatureBase({ method, targetUri, headers: [] }, p.covered, p.signatureParams).split('\n').slice(0, -1);
  };
  assert.deepEqual(base('https://www.example.com/path?param=value', '"@method" "@target-uri" "@authority" "@scheme" "@request-target" "@path" "@query"'), [
    '"@method": POST',
    '"@target-uri": https://www.example.com/path?param=value',
    '"@authority": www.example.com',
    '"@scheme": https',
    '"@request-target": /path?param=value',
    '"@path": /path',
    '"@query": ?param=value',
  ]);
  assert.deepEqual(base('https://www.example.com/path?param=value&foo=bar&baz=bat%2Dman', '"@query"'), ['"@query": ?param=value&foo=bar&baz=bat%2Dman']);
  assert.deepEqual(base('https://www.example.com/path', '"@query"'), ['"@query": ?']);
  assert.deepEqual(base('https://WWW.Example.com:443/path', '"@authority"'), ['"@authority": www.example.com'], 'lowercased, default port dropped');
  assert.deepEqual(base('http://example.com:8080/', '"@authority"'), ['"@authority": example.com:8080']);
  assert.deepEqual(base('https://www.example.com/path?param=value&foo=bar&baz=batman&qux=', '"@query-param";name="baz" "@query-param";name="qux" "@query-param";name="param"'), [
    '"@query-param";name="baz": batman',
    '"@query-param";name="qux": ',
    '"@query-param";name="param": value',
  ]);
  assert.deepEqual(base('https://www.example.com/parameters?var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something', '"@query-param";name="var" "@query-param";name="bar" "@query-param";name="fa%C3%A7ade%22%3A%20"'), [
    '"@query-param";name="var": this%20is%20a%20big%0Amultiline%20value',
    '"@query-param";name="bar": with%20plus%20whitespace',
    '"@query-param";name="fa%C3%A7ade%22%3A%20": something',
  ]);
  assert.throws(() => base('https://a.test/?x=1&x=2', '"@query-param";name="x"'), { code: 'malformed_signature' });
  assert.throws(() => base('https://a.test/?x=1', '"@query-param";name="y"'), { code: 'missing_component' });
  assert.throws(() => base('https://a.test/', '"@status"'), { code: 'malformed_signature' });
  assert.throws(() => base('https://a.test/', '"@method";req'), { code: 'malformed_signature' });
  assert.throws(() => base('https://a.test/', '"@bogus"'), { code: 'malformed_signature' });
  assert.throws(() => base('https://a.test/', '"@signature-params"'), { code: 'malformed_signature' });
});

test('§2.1: header field components, with ;sf, ;key and ;bs', () => {
  const headers: Array<[string, string]> = [
    ['Host', 'www.example.com'],
    ['X-OWS-Header', '   Leading and trailing whitespace.   '],
    ['Cache-Control', 'max-age=60'],
    ['Cache-Control', '   must-revalidate'],
    ['Example-Dict', ' a=1,    b=2;x=1;y=2,   c=(a   b   c)'],
    ['Example-Header', 'value, with, lots'],
    ['Example-Header', 'of, commas'],
    ['X-Empty-Header', ''],
  ];
  const base = (components: string, h = headers) => {
    const p = parseSignatureFields(`s=(${components});created=1`, 's=:AAAA:');
    return signatureBase({ method: 'GET', targetUri: 'https://www.example.com/', headers: h }, p.covered, p.signatureParams).split('\n').slice(0, -1);
  };
  assert.deepEqual(base('"host" "x-ows-header" "cache-control" "example-dict" "x-empty-header"'), [
    '"host": www.example.com',
    '"x-ows-header": Leading and trailing whitespace.',
    '"cache-control": max-age=60, must-revalidate',
    '"example-dict": a=1,    b=2;x=1;y=2,   c=(a   b   c)',
    '"x-empty-header": ',
  ]);
  assert.deepEqual(base('"example-dict";sf'), ['"example-dict";sf: a=1, b=2;x=1;y=2, c=(a b c)']);
  const dict: Array<[string, string]> = [['Example-Dict', ' a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid']];
  assert.deepEqual(base('"example-dict";key="a" "example-dict";key="d" "example-dict";key="b" "example-dict";key="c"', dict), [
    '"example-dict";key="a": (1 2)',
    '"example-dict";key="d": (5 6);valid',
    '"example-dict";key="b": 3',
    '"example-dict";key="c": 4;aa=bb',
  ]);
  assert.deepEqual(base('"example-header" "example-header";bs'), ['"example-header": value, with, lots, of, commas', '"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:']);
  assert.deepEqual(base('"example-header";bs', [['Example-Header', 'value, with, lots, of, commas']]), ['"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHMsIG9mLCBjb21tYXM=:']);
  assert.throws(() => base('"example-dict";key="zz"', dict), { code: 'missing_component' });
  assert.throws(() => base('"Host"'), { code: 'malformed_signature' }, 'component names are lowercase');
  assert.throws(() => base('"example-header";bs;sf'), { code: 'malformed_signature' });
  assert.throws(() => base('"host";tr'), { code: 'malformed_signature' });
  assert.throws(() => base('"host" "host"'), { code: 'malformed_signature' });
});

test('raw HTTP/1.1 parsing of the B.2 request', () => {
  const r = parseRawRequest(Buffer.from(b26RawRequest()));
  assert.equal(r.method, 'POST');
  assert.equal(r.targetUri, B2_TARGET);
  assert.equal(Buffer.from(r.body!).toString(), B2_BODY);
  assert.equal(parseRawRequest(Buffer.from(`${b26RawRequest()}\n`)).body!.length, 18, 'cut at Content-Length');
  assert.equal(parseRawRequest(Buffer.from(b26RawRequest().replaceAll('\r\n', '\n'))).targetUri, B2_TARGET, 'bare LF accepted');
  assert.throws(() => parseRawRequest(Buffer.from('GARBAGE\r\n\r\n')), { code: 'bad_request' });
  assert.throws(() => parseRawRequest(Buffer.from('GET / HTTP/1.1\r\n\r\n')), { code: 'bad_request' }, 'no Host');
  assert.throws(() => parseRawRequest(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n')), { code: 'bad_request' });
  assert.throws(() => parseRawRequest(Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc')), { code: 'bad_request' });
});

function cli(args: string[], input: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('`clawguard identity verify` accepts the B.2.6 example at --now 1618884473 and explains why', () => {
  const dir = tempDir('cg-verify-');
  const pub = join(dir, 'test-key-ed25519.pub');
  writeFileSync(pub, TEST_KEY_ED25519.publicPem);
  const jwk = join(dir, 'test-key-ed25519.jwk');
  writeFileSync(jwk, JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: TEST_KEY_ED25519.jwk.x }));
  const args = ['identity', 'verify', '--public-key', pub, '--keyid', 'test-key-ed25519', '--now', '1618884473', '--require', B26_COMPONENTS.join(',')];
  const ok = cli(args, b26RawRequest());
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /covered {5}"date" "@method" "@path" "@authority" "content-type" "content-length"/);
  assert.match(ok.stdout, /^PASS/m);
  assert.ok(ok.stdout.includes(B26_BASE.split('\n').map((l) => `  ${l}`).join('\n')), 'prints the signature base');
  const json = cli([...args.map((a) => (a === pub ? jwk : a)), '--json'], b26RawRequest());
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, true);
  assert.equal(report.signatureBase, B26_BASE);
  assert.deepEqual(report.contentDigest, ['sha-512']);

  const late = cli(args.map((a) => (a === '1618884473' ? '1618884600' : a)), b26RawRequest());
  assert.equal(late.code, 1, late.stderr);
  assert.match(late.stdout + late.stderr, /FAIL clock_skew/);
  const tampered = cli(args, b26RawRequest().replace('Date: Tue, 20 Apr 2021 02:07:55 GMT', 'Date: Tue, 20 Apr 2021 02:07:56 GMT'));
  assert.equal(tampered.code, 1, tampered.stderr);
  assert.match(tampered.stdout + tampered.stderr, /FAIL bad_signature/);
  const body = cli(args, b26RawRequest().replace('"world"}', '"World"}'));
  assert.equal(body.code, 1, body.stderr);
  assert.match(body.stdout + body.stderr, /FAIL digest_mismatch/);
  const otherKey = cli(args.map((a) => (a === 'test-key-ed25519' ? 'someone-else' : a)), b26RawRequest());
  assert.equal(otherKey.code, 1, otherKey.stderr);
  assert.match(otherKey.stdout + otherKey.stderr, /FAIL unknown_key/);
  const policy = cli(['identity', 'verify', '--public-key', pub, '--now', '1618884473'], b26RawRequest());
  assert.equal(policy.code, 1, 'the gateway policy (nonce, @target-uri, content-digest) is not met by the RFC example');
  assert.match(policy.stdout + policy.stderr, /FAIL missing_component/);
  const more = cli(args.map((a) => (a === B26_COMPONENTS.join(',') ? `${B26_COMPONENTS.join(',')},@query` : a)), b26RawRequest());
  assert.equal(more.code, 1);
  assert.match(more.stdout, /does not cover the required component "@query"/);
  assert.equal(cli(['identity', 'verify', '--public-key', join(dir, 'missing.pem')], b26RawRequest()).code, 2);
  assert.equal(cli(['identity', 'verify', '--public-key', pub, '--now', 'yesterday'], b26RawRequest()).code, 2);
  assert.equal(cli(['identity', 'verify', '--public-key', pub], '').code, 2);
});
