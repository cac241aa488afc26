import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { AuditEventInput } from '../../src/pipeline/index.js';
import { Automaton, formsOf, MIN_PATTERN_LENGTH, redactingAuditSink, redactingLogger, SecretRedactor } from '../../src/secrets/index.js';
import { mulberry32 } from '../helpers/prng.js';

const VALUE = 'sk-live-Q9x!7 "quoted" \\ ü/+=?&end';

/** Every encoded shape of `v` embedded in surrounding text, as a leaking tool or server would produce it. */
function encodings(v: string): Record<string, string> {
  const b = Buffer.from(v, 'utf8');
  const out: Record<string, string> = {
    raw: `token=${v};`,
    json: JSON.stringify({ token: v }),
    base64: `Basic ${b.toString('base64')}`,
    base64NoPad: `x${b.toString('base64').replace(/=+$/, '')}y`,
    base64url: `t=${b.toString('base64url')}.`,
    urlencoded: `https://evil.example/?k=${encodeURIComponent(v)}&x=1`,
    urlencodedLower: `k=${encodeURIComponent(v).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`,
    formEncoded: `k=${new URLSearchParams({ k: v }).toString().slice(2)}`,
    hex: `0x${b.toString('hex')}`,
    hexUpper: `0x${b.toString('hex').toUpperCase()}`,
  };
  // Inside a longer base64 blob, at each of the three byte alignments.
  for (let k = 0; k < 3; k++) {
    const blob = Buffer.concat([Buffer.from('prefix-bytes'.slice(0, 5 + k)), b, Buffer.from('-suffix')]);
    out[`base64Embedded${k}`] = blob.toString('base64');
    out[`base64urlEmbedded${k}`] = blob.toString('base64url');
  }
  return out;
}

test('every form of a secret is replaced by [REDACTED:name], wherever it sits', () => {
  const r = new SecretRedactor();
  r.add('openai', VALUE);
  for (const [form, text] of Object.entries(encodings(VALUE))) {
    const out = r.redactText(text);
    assert.match(out, /\[REDACTED:openai\]/, `${form}: ${out}`);
    // Nothing long enough to reconstruct the value survives: no 8-character run of any encoded form.
    for (const f of formsOf(VALUE)) {
      for (let i = 0; i + 8 <= f.length; i += 4) assert.ok(!out.includes(f.slice(i, i + 8)) || 'prefix-bytes-suffix'.includes(f.slice(i, i + 8)), `${form}: fragment ${f.slice(i, i + 8)} of ${f} survived in ${out}`);
    }
  }
  assert.equal(r.redactText('Basic ' + Buffer.from(VALUE).toString('base64')), 'Basic [REDACTED:openai]', 'a standalone base64 value goes entirely, padding included');
  assert.equal(r.redactText(`a${VALUE}b${VALUE}c`), 'a[REDACTED:openai]b[REDACTED:openai]c');
});

test('all secrets go through one automaton; labels name the right secret; short values are left alone', () => {
  const r = new SecretRedactor();
  r.add('a', 'alpha-secret-value-1');
  r.add('b', 'bravo-secret-value-2');
  r.add('tiny', 'abc');
  const stats = r.stats();
  assert.equal(stats.secretsKnown, 3);
  assert.equal(stats.patterns, formsOf('alpha-secret-value-1').length + formsOf('bravo-secret-value-2').length + formsOf('abc').length);
  assert.equal(formsOf('abc').length, 0, `values shorter than ${MIN_PATTERN_LENGTH} characters have no pattern, in any form`);
  assert.equal(r.redactText('x alpha-secret-value-1 y bravo-secret-value-2 abc'), 'x [REDACTED:a] y [REDACTED:b] abc');
});

test('overlapping and adjacent occurrences of different secrets', () => {
  const r = new SecretRedactor();
  r.add('long', 'OVERLAP-secret-long-value');
  r.add('short', 'secret-long');
  assert.equal(r.redactText('[OVERLAP-secret-long-value]'), '[[REDACTED:long]]');
  assert.equal(r.redactText('secret-longOVERLAP-secret-long-value'), '[REDACTED:short][REDACTED:long]');
  r.add('p', 'pppppppp-1');
  r.add('q', 'ppppp-1-qqqqq');
  assert.equal(r.redactText('pppppppp-1-qqqqq'), '[REDACTED:q]', 'overlapping ranges merge into one, labelled by the longest');
});

const prng = mulberry32;

function naive(patterns: string[], text: string): Array<[number, number]> {
  const hits: Array<[number, number]> = [];
  patterns.forEach((p) => {
    for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1)) hits.push([i, i + p.length]);
  });
  hits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: Array<[number, number]> = [];
  for (const h of hits) {
    const last = merged[merged.length - 1];
    if (last && h[0] < last[1]) last[1] = Math.max(last[1], h[1]);
    else merged.push([...h]);
  }
  return merged;
}

test('the automaton finds exactly what a naive search finds (random patterns; UTF-16 and ASCII byte paths)', () => {
  const rand = prng(42);
  let alphabet = '';
  const word = (min: number, max: number) => Array.from({ length: min + Math.floor(rand() * (max - min + 1)) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
  for (let round = 0; round < 300; round++) {
    // Non-ASCII text is scanned by character; long ASCII text by byte, in two interleaved halves.
    alphabet = round % 2 ? 'abcab-ü€' : 'abcab-x';
    const patterns = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => word(1, 20)))];
    const text = round % 2 ? word(0, 300) : word(256, 3000);
    const a = new Automaton(patterns);
    const got = (a.scan(text) ?? []).map((s) => [s.start, s.end]);
    assert.deepEqual(got, naive(patterns, text), `round ${round}: patterns ${JSON.stringify(patterns)} text ${JSON.stringify(text)}`);
  }
});

test('filter() deep-redacts values and keys, keeps clean values identical, survives cycles, counts exposures', () => {
  const r = new SecretRedactor();
  const seen: Array<[string, number, string]> = [];
  r.onExposure((counts, where) => {
    for (const [k, n] of counts) seen.push([k, n, where]);
  });
  const clean = { a: [1, 'two', { three: true }], b: null };
  assert.equal(r.filter(clean), clean, 'nothing known yet: identity');
  r.add('gh', 'ghp_0123456789abcdefXYZ');
  assert.equal(r.filter(clean), clean, 'nothing to redact: the same object comes back');
  const dirty: Record<string, unknown> = { ok: 'fine', nested: [{ token: 'ghp_0123456789abcdefXYZ' }], ['ghp_0123456789abcdefXYZ']: 'as a key', n: 5 };
  dirty.self = dirty;
  const out = r.filter(dirty) as Record<string, any>;
  assert.equal(out.ok, 'fine');
  assert.equal(out.nested[0].token, '[REDACTED:gh]');
  assert.equal(out['[REDACTED:gh]'], 'as a key');
  assert.equal(out.n, 5);
  assert.equal(out.self, '[Circular]');
  assert.ok(!JSON.stringify(out).includes('ghp_0123456789abcdefXYZ'));
  assert.deepEqual(seen, [['gh', 2, 'output']]);
});

test('a value learnt later is redacted from then on; old values of a secret stay redacted (bounded)', () => {
  const r = new SecretRedactor();
  assert.equal(r.redactText('v1-aaaaaaaa'), 'v1-aaaaaaaa');
  r.add('s', 'v1-aaaaaaaa');
  r.add('s', 'v2-bbbbbbbb');
  assert.equal(r.redactText('v1-aaaaaaaa v2-bbbbbbbb'), '[REDACTED:s] [REDACTED:s]');
  for (let i = 3; i < 20; i++) r.add('s', `v${i}-cccccccc`);
  assert.equal(r.redactText('v1-aaaaaaaa'), 'v1-aaaaaaaa', 'only the most recent values are kept');
  assert.equal(r.redactText('v19-cccccccc'), '[REDACTED:s]');
  r.forget('s');
  assert.equal(r.redactText('v19-cccccccc'), 'v19-cccccccc');
});

test('redactingLogger: message, fields, errors and bindings are redacted before the line is written', () => {
  const lines: string[] = [];
  const r = new SecretRedactor();
  const exposures: string[] = [];
  r.onExposure((c, where) => exposures.push(`${[...c.keys()].join(',')}@${where}`));
  const log = redactingLogger(pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) }), r);
  const secret = 'xoxb-1234-"quoted"-\\slash-5678';
  r.add('slack', secret);
  log.info({ header: `Bearer ${secret}`, b64: Buffer.from(secret).toString('base64') }, `calling with ${secret}`);
  log.child({ token: secret }).warn('child binding');
  log.error({ err: new Error(`failed: ${secret}`) }, 'boom');
  assert.equal(lines.length, 3);
  for (const l of lines) {
    assert.doesNotThrow(() => JSON.parse(l), 'still valid JSON');
    assert.ok(!l.includes('xoxb-1234'), l);
    assert.ok(!l.includes(Buffer.from(secret).toString('base64').slice(4, 20)), l);
    assert.match(l, /\[REDACTED:slack\]/);
  }
  assert.deepEqual(exposures, ['slack@log', 'slack@log', 'slack@log']);
});

test('redactingAuditSink: events are redacted before the real sink stores them', async () => {
  const r = new SecretRedactor();
  const where: string[] = [];
  r.onExposure((_c, w) => where.push(w));
  r.add('db', 'postgres-password-XYZ123');
  const stored: AuditEventInput[] = [];
  const sink = redactingAuditSink({ record: async (e) => void stored.push(e) }, r);
  await sink.record({ type: 'tool.decision', action: 'exec.run', resource: 'psql://u:postgres-password-XYZ123@db', payload: { args: { argv: ['psql', `--password=${encodeURIComponent('postgres-password-XYZ123')}`] } } });
  assert.equal(stored[0]!.resource, 'psql://u:[REDACTED:db]@db');
  assert.deepEqual((stored[0]!.payload as any).args.argv, ['psql', '--password=[REDACTED:db]']);
  assert.deepEqual(where, ['audit']);
});
