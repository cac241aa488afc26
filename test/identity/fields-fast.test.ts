/**
 * The canonical-form reader of Signature-Input / Signature against the general RFC 8941 parser
 * (structured-headers): wherever the fast reader answers, the general parser must give exactly
 * the same parse; wherever the general parser refuses, the fast reader must not answer. Fixed
 * seed, thousands of generated and mutated field pairs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ParsedSignature, canonicalSignature, parseSignatureFieldsGeneral } from '../../src/identity/httpsig/fields.js';
import { mulberry32 } from '../helpers/prng.js';

const rng = mulberry32(0x8941);
const pick = <T>(a: readonly T[]): T => a[Math.floor(rng() * a.length)]!;

const NAMES = ['@method', '@target-uri', '@authority', '@path', '@query', 'content-digest', 'content-type', 'x-a', 'date'];
const LABELS = ['sig1', 'sig-b26', 'a*b', 's.1', 'sig_2'];

function field(): { input: string; signature: string } {
  const label = pick(LABELS);
  const n = Math.floor(rng() * 5);
  const comps: string[] = [];
  for (let i = 0; i < n; i++) {
    let c = `"${pick(NAMES)}"`;
    if (rng() < 0.1) c += pick([';sf', ';key="a"', ';bs', ';req']);
    comps.push(c);
  }
  const params: string[] = [];
  if (rng() < 0.9) params.push(`;created=${Math.floor(rng() * 2e9)}`);
  if (rng() < 0.3) params.push(`;expires=${Math.floor(rng() * 2e9)}`);
  if (rng() < 0.8) params.push(`;nonce="${Buffer.from(String(rng())).toString('base64url')}"`);
  if (rng() < 0.5) params.push(';alg="ed25519"');
  if (rng() < 0.8) params.push(`;keyid="${pick(['a1', 'test-key-ed25519', 'k;x', 'k,y', 'k=z'])}"`);
  if (rng() < 0.1) params.push(pick([';tag="t"', ';x=?1', ';y=tok', ';z=1.5', ';w=:AQID:']));
  const sig = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) sig[i] = Math.floor(rng() * 256);
  return { input: `${label}=(${comps.join(' ')})${params.join('')}`, signature: `${label}=:${sig.toString('base64')}:` };
}

const NOISE = ['', ' ', '"', '\\', ';', '=', ',', '(', ')', ':', 'A', '0', '-1', '00', 'é', '\t', 'sig2=("x")', '=='];
function mutate(s: string): string {
  const at = Math.floor(rng() * (s.length + 1));
  switch (Math.floor(rng() * 4)) {
    case 0:
      return s.slice(0, at) + pick(NOISE) + s.slice(at);
    case 1:
      return s.slice(0, at) + s.slice(at + 1 + Math.floor(rng() * 3));
    case 2:
      return `${s}, ${s}`;
    default:
      return s.toUpperCase() === s ? `${s} ` : s.slice(0, at) + s.slice(at).replace(/[a-z]/, (c) => c.toUpperCase());
  }
}

function sameParse(a: ParsedSignature, b: ParsedSignature, what: string): void {
  assert.equal(a.label, b.label, what);
  assert.deepEqual(a.identifiers, b.identifiers, what);
  assert.deepEqual(a.params, b.params, what);
  assert.equal(a.signatureParams, b.signatureParams, what);
  assert.ok(a.signature.equals(b.signature), what);
  assert.deepEqual(a.covered.map(([n, p]) => [n, [...p]]), b.covered.map(([n, p]) => [n, [...p]]), what);
}

test('wherever the canonical reader answers, the general parser gives the same parse (5,000 generated, 5,000 mutated pairs)', () => {
  let fast = 0;
  let general = 0;
  for (let i = 0; i < 10_000; i++) {
    const f = field();
    const input = i < 5000 ? f.input : rng() < 0.7 ? mutate(f.input) : f.input;
    const signature = i < 5000 ? f.signature : rng() < 0.5 ? mutate(f.signature) : f.signature;
    const label = rng() < 0.1 ? pick(LABELS) : undefined;
    const what = JSON.stringify({ input, signature, label });
    let g: ParsedSignature | undefined;
    try {
      g = parseSignatureFieldsGeneral(input, signature, label);
      general++;
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'malformed_signature', what);
    }
    let c: ParsedSignature | undefined;
    try {
      c = canonicalSignature(input, signature, label);
    } catch (e) {
      // the same parameter checks as the general path (e.g. expires before created)
      assert.equal(g, undefined, `${what}: the fast reader refused what the general parser accepted`);
      assert.equal((e as { code?: string }).code, 'malformed_signature', what);
      continue;
    }
    if (c === undefined) continue;
    fast++;
    assert.ok(g, `${what}: the fast reader accepted what the general parser refused`);
    sameParse(c, g, what);
  }
  assert.ok(fast > 3000, `the fast reader answered for ${fast} pairs`);
  assert.ok(general > fast, `some pairs only the general parser reads (${general} vs ${fast})`);
});

test('the canonical reader leaves non-canonical forms to the general parser', () => {
  const sig = `sig1=:${Buffer.alloc(64, 7).toString('base64')}:`;
  for (const input of [
    'sig1=("@method");created=01', // leading zero: serializes differently
    'sig1=("@method");created=1;created=2', // duplicate parameter
    'sig1=("@method" "@method");created=1', // duplicate component
    'sig1=( "@method");created=1', // extra space
    'sig1=("@method");created=1, sig2=("@path")', // two members
    'sig1=("@method";sf);created=1', // component parameters
    'sig1=("@method");created=-1', // negative
    'sig1=("@method");x=?1', // boolean parameter
  ]) {
    assert.equal(canonicalSignature(input, sig), undefined, input);
  }
  assert.equal(canonicalSignature('sig1=("@method");created=1', 'sig1=:AQJ=:'), undefined, 'stray pad bits are not canonical');
  assert.ok(canonicalSignature('sig1=("@method");created=1', 'sig1=:AQID:'), 'a canonical pair is read');
});
