/**
 * Fuzzing of the Signature-Input / Signature parser and of verification, from a fixed seed.
 * Thousands of mutated requests: none may crash (every refusal is a ClawguardError with a known
 * code), and none that changes anything the signature covers may be accepted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClawguardError } from '../../src/errors/index.js';
import { contentDigest, GATEWAY_COVERAGE, importPrivateKey, importPublicKey, parseRawRequest, parseSignatureFields, REJECTION_CODES, signRequest, type VerifiedSignature, verifyRequest } from '../../src/identity/index.js';
import { TEST_KEY_ED25519 } from './rfc-vectors.js';
import { mulberry32 } from '../helpers/prng.js';

const SEED = 0x5eed9421;
const rng = mulberry32;

const NOW = 1_700_000_000;
const KEYID = 'fuzz-agent';
const privateKey = importPrivateKey(TEST_KEY_ED25519.privatePem);
const publicKey = importPublicKey(TEST_KEY_ED25519.publicPem);
const ALLOWED = new Set<string>([...REJECTION_CODES, 'bad_request']);

function original(): string {
  const body = '{"path":"/tmp/a.txt","n":1}';
  const headers: Array<[string, string]> = [
    ['Host', 'gw.example:18789'],
    ['Content-Type', 'application/json'],
    ['Content-Digest', contentDigest(Buffer.from(body), 'sha-256')],
    ['X-Dict', 'a=1, b=(x y);p=?1, c=:AQID:'],
    ['X-Multi', 'one, two'],
    ['X-Multi', 'three'],
    ['Content-Length', String(Buffer.byteLength(body))],
  ];
  const target = '/v1/tools/fs.read?q=hello+world&z=%7E';
  const f = signRequest(
    { method: 'POST', targetUri: `https://gw.example:18789${target}`, headers, body: Buffer.from(body) },
    {
      keyid: KEYID,
      privateKey,
      components: ['@method', '@target-uri', '@authority', ['@query-param', { name: 'q' }], 'content-digest', 'content-type', ['x-dict', { key: 'b' }], ['x-dict', { sf: true }], ['x-multi', { bs: true }]],
      params: [['created', NOW - 5], ['expires', NOW + 55], ['nonce', 'bm9uY2UtMTIz'], ['alg', 'ed25519'], ['keyid', KEYID], ['tag', 'fuzz']],
    },
  );
  return [`POST ${target} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`), `Signature-Input: ${f.signatureInput}`, `Signature: ${f.signature}`, '', body].join('\r\n');
}

interface Outcome {
  accepted?: { sig: VerifiedSignature; body: string; signature: string };
  code?: string;
}

function verifyRaw(raw: string): Outcome {
  try {
    const msg = parseRawRequest(Buffer.from(raw, 'latin1'));
    const sig = verifyRequest(msg, {
      now: NOW,
      skewSeconds: 60,
      required: GATEWAY_COVERAGE,
      resolveKey: (k) => {
        if (k !== KEYID) throw new ClawguardError('unknown_key', 'unknown');
        return { key: publicKey };
      },
    });
    const field = (n: string) => msg.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v).join(', ');
    const bytes = parseSignatureFields(field('signature-input'), field('signature'), sig.label).signature;
    return { accepted: { sig, body: Buffer.from(msg.body ?? []).toString('latin1'), signature: bytes.toString('base64') } };
  } catch (e) {
    if (!(e instanceof ClawguardError)) throw e;
    return { code: e.code };
  }
}

const SF_BITS = ['(', ')', '"', ';', '=', ',', ':', '?1', '?0', '@', '%"', '*', ' ', '\t', '-1', '1.5', '99999999999999999', 'sig1', 'keyid', 'created', '"@method"', '""', '\\', '=:', ':=', 'AAAA'];

function mutate(raw: string, r: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const at = (s: string) => Math.floor(r() * (s.length + 1));
  const lines = raw.split('\r\n');
  const kind = Math.floor(r() * 10);
  switch (kind) {
    case 0: {
      // flip one byte anywhere
      const i = Math.floor(r() * raw.length);
      return raw.slice(0, i) + String.fromCharCode(Math.floor(r() * 256)) + raw.slice(i + 1);
    }
    case 1: {
      // delete a short span anywhere
      const i = Math.floor(r() * raw.length);
      return raw.slice(0, i) + raw.slice(i + 1 + Math.floor(r() * 4));
    }
    case 2: {
      // insert structured-field punctuation into the signature fields
      const prefix = pick(['Signature-Input:', 'Signature:']);
      const li = lines.findIndex((l) => l.startsWith(prefix));
      const l = lines[li]!;
      const i = at(l);
      lines[li] = l.slice(0, i) + pick(SF_BITS) + l.slice(i);
      return lines.join('\r\n');
    }
    case 3: {
      // change one character of a covered header value, the request line or the body
      const li = pick([0, 1, 2, 3, 4, 5, 6, lines.length - 1]);
      const l = lines[li]!;
      const i = Math.max(0, Math.min(l.length - 1, Math.floor(r() * l.length)));
      const c = l.charCodeAt(i);
      lines[li] = l.slice(0, i) + String.fromCharCode(c ^ (1 << Math.floor(r() * 7))) + l.slice(i + 1);
      return lines.join('\r\n');
    }
    case 4: {
      // signature parameters: numbers, strings, removal
      return raw.replace(/(created|expires)=(\d+)/, (_m, k: string, v: string) => `${k}=${Number(v) + Math.floor(r() * 200) - 100}`).replace(r() < 0.5 ? /;nonce="[^"]*"/ : /;tag="fuzz"/, r() < 0.5 ? '' : ';nonce="other"');
    }
    case 5: {
      // drop, duplicate or reorder covered components
      return raw.replace(/\(([^)]*)\)/, (_m, inner: string) => {
        const items: string[] = inner.match(/"[^"]*"(?:;[a-z]+(?:="[^"]*")?)*/g) ?? [];
        const op = Math.floor(r() * 3);
        if (op === 0 && items.length) items.splice(Math.floor(r() * items.length), 1);
        else if (op === 1 && items.length) items.push(pick(items));
        else items.reverse();
        return `(${items.join(' ')})`;
      });
    }
    case 6: {
      // the signature bytes: flip bits, change padding, swap for another base64 string
      return raw.replace(/Signature: sig1=:([^:]*):/, (_m, b64: string) => {
        const o = Math.floor(r() * 4);
        if (o === 0) {
          const bytes = Buffer.from(b64, 'base64');
          bytes[Math.floor(r() * bytes.length)]! ^= 1 << Math.floor(r() * 8);
          return `Signature: sig1=:${bytes.toString('base64')}:`;
        }
        if (o === 1) return `Signature: sig1=:${b64.replace(/=+$/, '')}:`;
        if (o === 2) return `Signature: sig1=:${b64.slice(0, -3)}${pick(['x', 'w', 'A', '/'])}==:`;
        return `Signature: sig1=:${Buffer.from(b64, 'base64').subarray(0, 32 + Math.floor(r() * 40)).toString('base64')}:`;
      });
    }
    case 7: {
      // duplicate or drop a whole header line
      const li = 1 + Math.floor(r() * (lines.length - 3));
      if (r() < 0.5) lines.splice(li, 0, lines[li]!);
      else lines.splice(li, 1);
      return lines.join('\r\n');
    }
    case 8: {
      // labels and dictionary members
      return pick([
        () => raw.replace('Signature-Input: sig1=', 'Signature-Input: sig2='),
        () => raw.replace('Signature: sig1=', 'Signature: sig1=:AAAA:, sig1='),
        () => raw.replace(/Signature: sig1=(:[^:]*:)/, 'Signature: sig1=$1, sig1=:AAAA:'),
        () => raw.replace('Signature-Input: ', 'Signature-Input: sig0=("@method");created=1;keyid="fuzz-agent", '),
        () => raw.replace(/keyid="fuzz-agent"/, `keyid="${pick(['', 'fuzz-agent ', 'FUZZ-AGENT', 'other'])}"`),
        () => raw.replace(/alg="ed25519"/, `alg="${pick(['ed448', 'rsa-pss-sha512', 'ED25519', ''])}"`),
        () => raw.replace(/"x-dict";key="b"/, `"x-dict";key="${pick(['a', 'c', 'zz'])}"`),
        () => raw.replace(/"@query-param";name="q"/, `"@query-param";name="${pick(['z', 'Q', 'nope'])}"`),
        () => raw.replace('Host: gw.example:18789', `Host: ${pick(['gw.example', 'GW.example:18789', 'evil.example:18789', 'gw.example:18790'])}`),
        () => raw.replace('POST /v1/tools/fs.read?', `POST /v1/tools/${pick(['fs.write', 'fs.read/', '../fs.read', 'fs.read%2f'])}?`),
      ])();
    }
    default: {
      // several byte mutations at once
      let s = raw;
      for (let n = 0; n < 2 + Math.floor(r() * 4); n++) {
        const i = Math.floor(r() * s.length);
        s = s.slice(0, i) + String.fromCharCode(32 + Math.floor(r() * 95)) + s.slice(i + (r() < 0.5 ? 1 : 0));
      }
      return s;
    }
  }
}

test('fuzz: 6000 mutated signed requests from a fixed seed — no crash, nothing that alters what was signed is accepted', (t) => {
  const base = original();
  const ok = verifyRaw(base);
  assert.ok(ok.accepted, `the unmutated request verifies (${ok.code})`);
  const ref = ok.accepted!;
  const r = rng(SEED);
  const codes = new Map<string, number>();
  let identical = 0;
  let neutral = 0;
  for (let i = 0; i < 6000; i++) {
    const m = mutate(base, r);
    if (m === base) {
      identical++;
      continue;
    }
    let out: Outcome;
    try {
      out = verifyRaw(m);
    } catch (e) {
      assert.fail(`case ${i} crashed the verifier: ${(e as Error).stack}\n${JSON.stringify(m)}`);
    }
    if (out.code) {
      assert.ok(ALLOWED.has(out.code), `case ${i}: unexpected code ${out.code}`);
      codes.set(out.code, (codes.get(out.code) ?? 0) + 1);
      continue;
    }
    // Accepted: then the signed content must be exactly the original's (e.g. header-name case or
    // optional whitespace inside a structured field changed — nothing the signature protects).
    const a = out.accepted!;
    assert.equal(a.sig.base, ref.sig.base, `case ${i}: accepted with a different signature base\n${JSON.stringify(m)}`);
    assert.equal(a.body, ref.body, `case ${i}: accepted with a different body`);
    assert.equal(a.signature, ref.signature, `case ${i}: accepted with different signature bytes`);
    neutral++;
    if (process.env.CLAWGUARD_FUZZ_SHOW) t.diagnostic(`neutral: ${JSON.stringify(m)}`);
  }
  const rejected = [...codes.values()].reduce((x, y) => x + y, 0);
  t.diagnostic(`seed ${SEED}: ${rejected} refused ${JSON.stringify(Object.fromEntries(codes))}; ${neutral} accepted with unchanged signed content; ${identical} mutations were no-ops`);
  assert.ok(rejected > 5000, `most mutants are refused (${rejected})`);
  for (const c of ['malformed_signature', 'bad_signature', 'missing_component', 'digest_mismatch', 'clock_skew', 'unknown_key', 'unsupported_algorithm', 'bad_request']) assert.ok((codes.get(c) ?? 0) > 0, `some mutants hit ${c}: ${JSON.stringify([...codes])}`);
  assert.ok(neutral < 300, `few semantically neutral mutants (${neutral}, identical ${identical})`);
});

test('fuzz: 6000 random Signature-Input / Signature field pairs — the parser never crashes', () => {
  const r = rng(SEED + 1);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const atoms = [...SF_BITS, 'sig1=', '("@method" "@path")', ';created=1618884473', ';keyid="k"', ';nonce="n"', ';alg="ed25519"', ';expires=1', ':wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:', '\u0000', 'é', '"\\"', '(', '@2024', '%"caf%c3%a9"', 'a=?1', '1e3'];
  const gen = () => Array.from({ length: 1 + Math.floor(r() * 12) }, () => pick(atoms)).join(r() < 0.3 ? ' ' : '');
  let parsed = 0;
  for (let i = 0; i < 6000; i++) {
    const input = r() < 0.5 ? `sig1=${gen()}` : gen();
    const sig = r() < 0.5 ? `sig1=${gen()}` : gen();
    try {
      const p = parseSignatureFields(input, sig);
      parsed++;
      assert.equal(p.signature.length >= 0, true);
    } catch (e) {
      assert.ok(e instanceof ClawguardError && e.code === 'malformed_signature', `case ${i} (${JSON.stringify([input, sig])}): ${(e as Error).stack}`);
    }
  }
  assert.ok(parsed < 6000);
});
