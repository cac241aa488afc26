import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { AuditEventInput } from '../../src/pipeline/index.js';
import { agentBody, Automaton, blockSize, formsOf, fragmentAnchorsOf, MIN_PATTERN_LENGTH, redactingAuditSink, redactingLogger, SecretRedactor } from '../../src/secrets/index.js';
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
  const patterns = (v: string) => new Set([...formsOf(v), ...fragmentAnchorsOf(v).map((a) => a.text)]).size;
  assert.equal(stats.patterns, patterns('alpha-secret-value-1') + patterns('bravo-secret-value-2') + patterns('abc'));
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

test('windows: a pattern found at p replaces [p − offset, p − offset + length), clipped and merged (random, against a naive search)', () => {
  const rand = prng(5);
  const word = (n: number) => Array.from({ length: n }, () => 'abcd'[Math.floor(rand() * 4)]).join('');
  for (let round = 0; round < 300; round++) {
    const patterns = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 5) }, () => word(2 + Math.floor(rand() * 14))))];
    const offset = patterns.map(() => Math.floor(rand() * 6));
    const length = patterns.map((p, i) => offset[i]! + p.length + Math.floor(rand() * 6));
    const text = word(Math.floor(rand() * (round % 2 ? 200 : 600)));
    const hits: Array<[number, number]> = [];
    patterns.forEach((p, k) => {
      for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1)) hits.push([Math.max(0, i - offset[k]!), Math.min(text.length, i - offset[k]! + length[k]!)]);
    });
    hits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const want: Array<[number, number]> = [];
    for (const h of hits) {
      const last = want[want.length - 1];
      if (last && h[0] < last[1]) last[1] = Math.max(last[1], h[1]);
      else want.push([...h]);
    }
    const got = (new Automaton(patterns, { offset, length }).scan(text) ?? []).map((x) => [x.start, x.end]);
    assert.deepEqual(got, want, `round ${round}`);
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

// ── parts of a value, oracles, bounded output ─────────────────────────────────────────────────

/** A 48-character key: a public prefix, then 40 characters of base64url. */
function key(rand: () => number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return 'sk-live-' + Array.from({ length: 40 }, () => abc[Math.floor(rand() * abc.length)]).join('');
}
/** Filler no key character belongs to (multi-byte too). */
const FILL = ' ~|ü€.';
const filler = (rand: () => number, n: number) => Array.from({ length: n }, () => FILL[Math.floor(rand() * FILL.length)]).join('');
const unmarked = (s: string) => s.replace(/\[REDACTED:[^\]]*\]/g, '');

test('a part of a value — any run of 3b−1 characters, at its start, middle or end — is an exposure and goes, whole place and all', () => {
  const rand = mulberry32(7);
  for (let round = 0; round < 200; round++) {
    const v = key(rand);
    const b = blockSize(v);
    assert.equal(b, 8, 'a base64url key: 8 characters carry 48 bits');
    const r = new SecretRedactor();
    const partial: number[] = [];
    r.onExposure((_c, _w, p) => partial.push(p.get('k') ?? 0));
    r.add('k', v);
    const len = 3 * b - 1 + Math.floor(rand() * (v.length - 3 * b + 1));
    const i = Math.floor(rand() * (v.length - len + 1));
    const run = v.slice(i, i + len);
    const out = r.redactText(`${filler(rand, 30)}${run}${filler(rand, 30)}`);
    assert.match(out, /\[REDACTED:k\]/, `run [${i}, ${i + len}) of ${v}`);
    assert.ok(!/[A-Za-z0-9_-]/.test(unmarked(out)), `nothing of the run survives: ${out}`);
    assert.deepEqual(partial, [len === v.length ? 0 : 1], 'counted, as a part unless it was the whole value');
    // Shorter than two blocks: never an anchor, never a catch (the documented bound of what is not found).
    const short = v.slice(i, i + Math.min(2 * b - 1, v.length - i));
    assert.equal(r.redactText(` ${short} `), ` ${short} `);
  }
});

test('no partial-value oracle: guesses next to a known part come out the same whatever the guess', () => {
  const rand = mulberry32(99);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let round = 0; round < 6; round++) {
    const v = key(rand);
    const b = blockSize(v);
    const r = new SecretRedactor();
    r.add('k', v);
    const out = (g: string) => r.redactText(`<${g}>`);
    // An attacker handed the first 2b − 1 characters (more than the gateway ever shows) probes with
    // every next character, after every known run it has; it learns one character, the one that
    // completes the first anchor, and then nothing: every guess yields the same output.
    let known = v.slice(0, 2 * b - 1);
    for (;;) {
      let learnt: string | undefined;
      for (let from = 0; from < known.length && !learnt; from++) {
        // What a probe tells: whether it came back as sent, and if not, where the replacement sits.
        const outs = new Map<string, string[]>();
        for (const c of abc) {
          const g = known.slice(from) + c;
          const o = out(g);
          const signal = o === `<${g}>` ? 'as sent' : `replaced ${o.indexOf('[')}..${o.length - o.lastIndexOf(']')}`;
          outs.set(signal, [...(outs.get(signal) ?? []), c]);
        }
        const odd = [...outs.values()].find((cs) => cs.length === 1);
        if (outs.size > 1 && odd) learnt = odd[0];
      }
      if (!learnt) break;
      known += learnt;
      assert.ok(known.length <= 2 * b, `the probing attacker learnt ${known.length} characters: ${known}`);
    }
    assert.equal(known, v.slice(0, 2 * b));
    // Knowing the value's middle is no better: each anchor of it costs 2^48 guesses from scratch.
    const mid = v.slice(b + 1, 3 * b - 1);
    assert.ok([...abc].every((c) => out(mid + c) === `<${mid + c}>`), 'a run one short of an anchor is shown as sent, whatever follows');
  }
});

test('chosen text next to a value comes back as sent, the value replaced: the redaction does not depend on what the agent put beside it', () => {
  const rand = mulberry32(3);
  for (let round = 0; round < 300; round++) {
    const v = key(rand);
    const b = blockSize(v);
    const r = new SecretRedactor();
    r.add('k', v);
    // Text an agent controls: its own characters and pieces of the value shorter than an anchor.
    const chosen = () => {
      let s = '';
      while (s.length < 40) s += rand() < 0.5 ? filler(rand, 3) : v.slice(Math.floor(rand() * 40), Math.floor(rand() * 40)).slice(0, 2 * b - 2) + '~';
      return s;
    };
    const x = chosen();
    const y = chosen();
    assert.equal(r.redactText(x + v + y), `${x}[REDACTED:k]${y}`, `${x} | ${y}`);
  }
});

test('serialisers that escape differently: PHP, Python and Go JSON, HTML, and the URL parser leave the value findable', () => {
  const v = 'k3y/with+slash & "quote" <tag> \'apos\' ü-end';
  const r = new SecretRedactor();
  r.add('k', v);
  const js = JSON.stringify(v).slice(1, -1);
  const shapes: Record<string, string> = {
    php: js.replace(/\//g, '\\/'),
    python: js.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    go: js.replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    html: v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'),
    owasp: v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;').replace(/\//g, '&#x2F;'),
    query: new URL(`http://x/?t=${v}`).search.slice(3),
    path: new URL(`http://x/cb/${v.replace(/[?#]/g, '')}`).pathname.slice(4),
  };
  for (const [name, text] of Object.entries(shapes)) {
    if (name === 'path') continue; // a value with "?" or "#" cannot sit whole in a path
    // Anchors shared by two escapings may widen the replacement by the few characters the escapes differ in.
    const out = r.redactText(`[${text}]`);
    assert.match(out, /^\[?\[REDACTED:k\]\]?$/, `${name}: ${text} -> ${out}`);
  }
  const noDelims = 'k3y/with+slash "quote" ü-end';
  const r2 = new SecretRedactor();
  r2.add('k', noDelims);
  assert.equal(r2.redactText(new URL(`http://x/cb/${noDelims}`).href), 'http://x/cb/[REDACTED:k]');
});

test('redactBounded: redacted whole, then cut at every offset — never inside a replacement, never a prefix of the value', () => {
  const rand = mulberry32(11);
  for (let round = 0; round < 40; round++) {
    const v = key(rand);
    const r = new SecretRedactor();
    r.add('partner', v);
    const text = `${filler(rand, 5 + Math.floor(rand() * 40))}{"error":"bad key ${v}"}${filler(rand, Math.floor(rand() * 40))}`;
    const full = r.redactText(text);
    const measure = rand() < 0.5 ? 'utf8' : 'chars';
    const size = (s: string) => (measure === 'utf8' ? Buffer.byteLength(s) : s.length);
    for (let keep = 0; keep <= size(text) + 2; keep++) {
      const got = r.redactBounded(text, 'test', { keep, measure });
      assert.ok(size(got.text) <= keep, `keep ${keep}: ${size(got.text)} units`);
      assert.ok(full.startsWith(got.text), `keep ${keep}: ${got.text} is not a head of the redacted text`);
      const marker = full.indexOf('[REDACTED:partner]');
      const n = got.text.length;
      assert.ok(n <= marker || n >= marker + '[REDACTED:partner]'.length, `keep ${keep} ends inside the replacement: ${got.text}`);
      assert.ok(!got.text.includes(v.slice(0, 9)), 'no head of the value');
      assert.equal(got.truncated, got.text.length < full.length, `keep ${keep}`);
      assert.equal(got.caught, 1);
    }
    // A cut input (a cap): nothing at or after safeEnd is shown, a catch across it is shown whole.
    const at = text.indexOf(v) + 5;
    const cut = r.redactBounded(text, 'test', { keep: 1e9, measure, safeEnd: at });
    assert.ok(cut.text.endsWith('[REDACTED:partner]') && cut.truncated, cut.text);
  }
});

test('agentBody: bytes that hide a value (UTF-16 with or without a mark, compression without a header, both) are looked into; the agent gets the inside, redacted', async () => {
  const zlib = await import('node:zlib');
  const v = 'sk-live-' + 'Zq8Lm3Np7Rt2Wx5Yb9Vc4Kd6Hf1Jg0Ts';
  const r = new SecretRedactor();
  r.add('k', v);
  const text = `{"error":"bad key ${v}","n":1}`;
  const be = (s: string) => Buffer.from(s, 'utf16le').swap16();
  const cases: Array<[string, Buffer, boolean]> = [
    ['utf-16le, undeclared', Buffer.from(text, 'utf16le'), false],
    ['utf-16be with a mark', Buffer.concat([Buffer.from([0xfe, 0xff]), be(text)]), false],
    ['utf-16le, declared, as an HTTP body', Buffer.from(text, 'utf16le'), true],
    ['gzip, undeclared', zlib.gzipSync(text), false],
    ['gzip of gzip of utf-16le', zlib.gzipSync(zlib.gzipSync(Buffer.from(text, 'utf16le'))), false],
    ['zlib-wrapped deflate', zlib.deflateSync(text), false],
  ];
  for (const [name, buf, charsets] of cases) {
    const got = await agentBody(buf, r, { maxBytes: 1000, truncated: false, charsets, contentType: charsets ? 'application/json; charset=utf-16le' : 'application/octet-stream', where: 'test' });
    assert.equal(got.bodyEncoding, 'utf8', name);
    assert.equal(got.body.replace(/^\uFEFF/, ''), '{"error":"bad key [REDACTED:k]","n":1}', name);
    assert.ok(got.decoded.length > 0 && got.changed, name);
  }
  // Nothing to hide: bytes stay bytes, a file stays as it is.
  const plain = zlib.gzipSync('nothing secret here');
  const got = await agentBody(plain, r, { maxBytes: 1000, truncated: false, where: 'test' });
  assert.deepEqual([got.bodyEncoding, got.body, got.changed], ['base64', plain.toString('base64'), false]);
  // A multi-byte character cut by the reader's cap is dropped, not turned into base64; a cut at maxBytes never splits one.
  const cut = await agentBody(Buffer.from('abc€def').subarray(0, 5), undefined, { maxBytes: 1000, truncated: true, where: 'test' });
  assert.deepEqual([cut.bodyEncoding, cut.body, cut.truncated], ['utf8', 'abc', true]);
  const long = Buffer.from('abc€'.repeat(200));
  for (let m = 1; m < 20; m++) {
    const x = await agentBody(long, r, { maxBytes: m, truncated: false, where: 'test' });
    assert.ok(x.bodyEncoding === 'utf8' && Buffer.byteLength(x.body) <= m && long.toString().startsWith(x.body) && x.truncated, `maxBytes ${m}: ${x.body}`);
  }
});
