/**
 * Issue 12, item 3: an agent that may only name a secret must never learn it. A real gateway, a
 * local secret bound to a loopback look-alike API (an http server here that echoes the presented
 * key in a realistic 401, compresses when asked and when not, lies about content-encoding, splits
 * chunks, echoes chosen text next to the key, cuts it, splits it across headers, honours Range), and
 * an agent in thread isolation that attacks: (a) maxBytes just short of the end of the key, then
 * the redactor as an equality oracle for the last characters; (b) accept-encoding gzip and inflating
 * the base64 itself; and fixed-seed variants of both (every offset around the key, encodings,
 * chunk splits, formats). It must learn nothing but the name, and every exposure is counted and audited.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

const rand = mulberry32(0x0c1e);
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const tail = Array.from({ length: 40 }, () => B64[Math.floor(rand() * 64)]).join('');
/** A 48-character key with "/" and "+" in it (JSON serialisers escape "/" differently). */
const KEY = `sk-live-${tail.slice(0, 12)}/${tail.slice(13, 25)}+${tail.slice(26)}`;
const SECRET_PART = KEY.slice('sk-live-'.length);

let server: Server;
let port = 0;
let g: TestGateway;
let run: any;
/** Responses the look-alike sent with the key (or 23+ characters of it) in them. */
let keyResponses = 0;

/** Every 8-character window of the key's secret part, in each shape an agent could undo. */
function windows(): string[] {
  const out = new Set<string>();
  const shapes = [SECRET_PART, Buffer.from(KEY).toString('base64'), Buffer.from(KEY).toString('hex'), encodeURIComponent(SECRET_PART), SECRET_PART.replace(/\//g, '\\/')];
  for (const s of shapes) for (let i = 0; i + 8 <= s.length; i++) out.add(s.slice(i, i + 8));
  return [...out];
}
const WINDOWS = windows();

/** What an agent can make of a body: the text, and whatever inflates out of it (three layers deep). */
function readings(text: string, encoding?: string): string[] {
  const out = [text];
  let layer: Buffer[] = [encoding === 'base64' ? Buffer.from(text, 'base64') : Buffer.from(text)];
  for (let depth = 0; depth < 3; depth++) {
    const next: Buffer[] = [];
    for (const b of layer) {
      out.push(b.toString('latin1'), b.toString('utf16le'));
      for (const f of [zlib.gunzipSync, zlib.inflateSync, zlib.inflateRawSync, zlib.brotliDecompressSync]) {
        try {
          next.push(f(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH } as zlib.ZlibOptions));
        } catch {
          /* not that */
        }
      }
    }
    layer = next;
  }
  return out;
}

function assertLearnsNothing(where: string, value: unknown): void {
  const walk = (v: unknown, path: string, encoding?: string): void => {
    if (typeof v === 'string') {
      for (const text of readings(v, encoding)) for (const w of WINDOWS) assert.ok(!text.includes(w), `${where}${path} gives away ${JSON.stringify(w)} of the key: ${v.slice(0, 300)}`);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`, k === 'body' ? (v as { bodyEncoding?: string }).bodyEncoding : undefined);
    }
  };
  walk(value, '');
}

/** The look-alike API: what a real service does with a key it rejects, and what a careless one does. */
function lookalike(req: IncomingMessage, res: ServerResponse): void {
  const u = new URL(req.url ?? '/', 'http://x');
  const q = (k: string) => u.searchParams.get(k) ?? '';
  const presented = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
  const count = (s: string) => {
    for (let i = 0; i + 23 <= KEY.length; i++) if (s.includes(KEY.slice(i, i + 23))) return void keyResponses++;
  };
  if (u.pathname === '/v1/redirect') {
    count(presented);
    return void res.writeHead(302, { location: `/v1/landing?token=${presented}` }).end();
  }
  if (u.pathname === '/v1/landing') return void res.end('landed');
  if (u.pathname === '/v1/badredirect') {
    count(presented);
    // Not a URL: the gateway's error message names it — never cut where the agent chose.
    return void res.writeHead(302, { location: `http://[${'x'.repeat(Number(q('n')))}${presented}` }).end();
  }
  let status = 401;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const message = `Incorrect API key provided: ${presented}. You can find your API key at https://platform.example/account.`;
  let body: string = JSON.stringify({ error: { message, type: 'invalid_request_error', code: 'invalid_api_key' }, ...(u.searchParams.has('q') ? { note: `${q('q')}${presented}${q('q2')}` } : {}) });
  switch (q('format')) {
    case 'php':
      body = body.replace(/\//g, '\\/');
      break;
    case 'html':
      headers['content-type'] = 'text/html';
      body = `<html><body><p>Key <code>${presented.replace(/&/g, '&amp;')}</code> rejected</p></body></html>`;
      break;
    case 'truncate30':
      body = JSON.stringify({ error: `Incorrect API key provided: ${presented.slice(0, 30)}…` });
      break;
    case 'masked':
      body = JSON.stringify({ error: `Incorrect API key provided: ${presented.slice(0, 8)}${'*'.repeat(36)}${presented.slice(-4)}` });
      break;
    case 'split-headers':
      headers['x-key-head'] = presented.slice(0, 24);
      headers['x-key-tail'] = presented.slice(24);
      count(presented.slice(0, 24));
      body = '{"error":"see headers"}';
      break;
    case 'header':
      headers['www-authenticate'] = `Bearer error="invalid_token", error_description="token ${presented} rejected"`;
      count(presented);
      body = '{"error":"unauthorized"}';
      break;
    case 'ok':
      status = 200;
      break;
  }
  if (q('format') !== 'split-headers' && q('format') !== 'header') count(body.replace(/\\\//g, '/'));
  let buf: Buffer = q('format') === 'utf16' ? Buffer.from(body, 'utf16le') : Buffer.from(body);
  if (q('format') === 'utf16') headers['content-type'] = 'application/json; charset=utf-16le';
  // Range, when the request asks for one (a hop that carries a key never does through the gateway).
  const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
  if (range) {
    status = 206;
    buf = buf.subarray(Number(range[1]), Number(range[2]) + 1);
  }
  const gz = (b: Buffer) => zlib.gzipSync(b);
  const enc = q('enc');
  if (enc === 'honour' && String(req.headers['accept-encoding'] ?? '').includes('gzip')) [buf, headers['content-encoding']] = [gz(buf), 'gzip'];
  else if (enc === 'gzip') [buf, headers['content-encoding']] = [gz(buf), 'gzip'];
  else if (enc === 'deflate') [buf, headers['content-encoding']] = [zlib.deflateSync(buf), 'deflate'];
  else if (enc === 'raw-deflate') [buf, headers['content-encoding']] = [zlib.deflateRawSync(buf), 'deflate'];
  else if (enc === 'br') [buf, headers['content-encoding']] = [zlib.brotliCompressSync(buf), 'br'];
  else if (enc === 'gzip,br') [buf, headers['content-encoding']] = [zlib.brotliCompressSync(gz(buf)), 'gzip, br'];
  else if (enc === 'te') [buf, headers['transfer-encoding']] = [gz(buf), 'gzip, chunked'];
  else if (enc === 'lie-none') buf = gz(buf); // compressed, and says nothing
  else if (enc === 'lie-octet') [buf, headers['content-type']] = [gz(gz(buf)), 'application/octet-stream']; // twice, as a "file"
  else if (enc === 'lie-gzip') headers['content-encoding'] = 'gzip'; // says gzip, is not
  else if (enc === 'lie-br') [buf, headers['content-encoding']] = [gz(buf), 'br'];
  if (!headers['transfer-encoding']) headers['content-length'] = String(buf.length);
  res.writeHead(status, headers);
  const step = Number(q('chunk')) || buf.length || 1;
  let i = 0;
  const next = () => {
    if (i >= buf.length) return void res.end();
    res.write(buf.subarray(i, (i += step)));
    setImmediate(next);
  };
  next();
}

const AGENT = `export default async (input, ctx) => {
  const out = [];
  const auth = { secret: 'partner' };
  const call = async (args) => {
    const r = await ctx.tools.call('http.fetch', args);
    out.push({ args, r });
    return r;
  };
  for (const a of input.plan) await call({ ...a, url: input.base + a.url, auth });

  // (a) Where the replacement sits, then every maxBytes around it: the longest unredacted head is
  // the key's prefix; then guess the last characters, using the redactor as an equality oracle.
  const full = await call({ url: input.base + '/v1/echo', auth });
  const at = full.ok ? full.result.body.indexOf('Incorrect API key provided: ') + 'Incorrect API key provided: '.length : -1;
  let known = '';
  for (let m = at - 2; m <= at + input.keyLength + 2; m++) {
    const r = await call({ url: input.base + '/v1/echo', auth, maxBytes: m });
    const seen = r.ok ? r.result.body.slice(at) : '';
    if (!seen.startsWith('[') && seen.length > known.length) known = seen;
  }
  // The same cuts through every coding the host can hide the key in.
  for (const v of input.variants) {
    for (let m = at - 2; m <= at + input.keyLength + 2; m++) {
      const r = await call({ url: input.base + '/v1/echo?' + v, auth, maxBytes: m });
      const seen = r.ok && r.result.bodyEncoding === 'utf8' ? r.result.body.slice(at) : '';
      if (!seen.startsWith('[') && seen.length > known.length) known = seen;
    }
  }
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let recovered = null;
  if (known.length >= input.keyLength - 2) {
    for (const c of alphabet) {
      const guess = known.slice(0, input.keyLength - 1) + c;
      const r = await call({ url: input.base + '/v1/echo?q=' + encodeURIComponent(guess) + '&q2=END', auth });
      if (r.ok && !r.result.body.includes(guess)) { recovered = guess; break; }
    }
  }

  // (b) Ask for gzip, inflate it yourself (the test does the inflating: the isolate has no zlib).
  const gz = await call({ url: input.base + '/v1/echo?enc=honour', auth, headers: { 'accept-encoding': 'gzip', 'Accept-Encoding': 'gzip' } });
  return { out, at, known, recovered, gzEncoding: gz.ok ? gz.result.bodyEncoding : null };
}`;

/** The fixed-seed plan: encodings, formats, chunk splits, maxBytes at every offset, chosen text next to the key. */
function plan(): Array<Record<string, unknown>> {
  const r = mulberry32(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const encs = ['', 'gzip', 'deflate', 'raw-deflate', 'br', 'gzip,br', 'te', 'lie-none', 'lie-octet', 'lie-gzip', 'lie-br', 'honour'];
  const formats = ['', 'php', 'html', 'utf16', 'truncate30', 'split-headers', 'header', 'ok'];
  const out: Array<Record<string, unknown>> = [];
  for (const enc of encs) out.push({ url: `/v1/echo?enc=${enc}`, headers: { 'accept-encoding': 'gzip, br, deflate' } });
  for (const format of formats) out.push({ url: `/v1/echo?format=${format}` });
  for (let i = 0; i < 60; i++) {
    const chosen = () => Array.from({ length: Math.floor(r() * 20) }, () => pick([...B64, ' ', '"', '\\'])).join('');
    const params = new URLSearchParams({ enc: pick(encs), format: pick(formats), chunk: String(1 + Math.floor(r() * 9)) });
    if (r() < 0.5) params.set('q', chosen()), params.set('q2', chosen());
    out.push({ url: `/v1/echo?${params}`, maxBytes: 1 + Math.floor(r() * 260), ...(r() < 0.3 ? { headers: { range: `bytes=${Math.floor(r() * 60)}-${60 + Math.floor(r() * 60)}` } } : {}) });
  }
  // A redirect that carries the key; an invalid one that the error message names, with the key across every cut a 300-character limit would make.
  out.push({ url: '/v1/redirect' });
  for (const n of [270, 280, 285, 290, 295]) out.push({ url: `/v1/badredirect?n=${n}` });
  out.push({ url: '/v1/echo?format=masked' });
  return out;
}

before(async () => {
  server = createServer(lookalike);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  port = (server.address() as { port: number }).port;
  const dir = tempDir('cg-oracle-');
  g = await startGateway({
    secrets: { partner: { source: 'local', agents: ['attacker'], allowedHosts: [`http://localhost:${port}`] } },
    agents: {
      attacker: {
        entry: writeAgent(dir, 'attacker.js', AGENT),
        isolation: 'thread',
        tools: { allow: ['http.fetch'] },
        sandbox: { mode: 'strict', networkAccess: { allowedDomains: ['localhost'], blockedDomains: ['*'], allowPrivate: [`localhost:${port}`] } },
      },
    },
  });
  await g.gw.secrets.set('partner', KEY);
  const variants = ['enc=gzip', 'enc=br&chunk=3', 'enc=gzip,br', 'enc=te', 'enc=lie-none', 'enc=lie-octet', 'format=utf16', 'format=php&enc=deflate&chunk=1'];
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'attacker', input: { base: `http://localhost:${port}`, keyLength: KEY.length, plan: plan(), variants } });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json).slice(0, 2000));
  run = r.json;
});

after(async () => {
  await g?.close();
  server?.close();
});

test('the key did reach the host it is bound to, and only in requests the agent made', () => {
  const o = run.output;
  const first = o.out[0].r;
  assert.equal(first.ok, true, JSON.stringify(first));
  assert.equal(first.result.status, 401);
  assert.match(first.result.body, /Incorrect API key provided: \[REDACTED:partner\]\. You can find/);
  assert.ok(keyResponses > 60, `the look-alike echoed the key ${keyResponses} times`);
});

test('(a) maxBytes at every offset around the key shows no part of it; the equality oracle has nothing to start from', () => {
  const o = run.output;
  assert.equal(o.recovered, null, 'the key was recovered');
  assert.equal(o.known, '', `the agent learnt a head of the key: ${o.known}`);
  const full = o.out.find((x: any) => x.args.url.endsWith('/v1/echo') && x.args.maxBytes === undefined).r.result.body as string;
  let cuts = 0;
  for (const { args, r } of o.out) {
    const u = new URL(args.url);
    const variant = ['', 'enc=gzip', 'enc=br&chunk=3', 'enc=gzip,br', 'enc=te', 'enc=lie-none', 'enc=lie-octet', 'format=utf16'].includes(u.search.slice(1));
    if (args.maxBytes === undefined || !r.ok || u.pathname !== '/v1/echo' || !variant) continue;
    cuts++;
    const body = r.result.body as string;
    assert.ok(Buffer.byteLength(body) <= args.maxBytes, `maxBytes ${args.maxBytes}: ${Buffer.byteLength(body)} bytes`);
    assert.ok(full.startsWith(body), `maxBytes ${args.maxBytes}: not a head of the redacted body: ${body}`);
    const marker = full.indexOf('[REDACTED:partner]');
    assert.ok(body.length <= marker || body.length >= marker + '[REDACTED:partner]'.length, `maxBytes ${args.maxBytes} cut the replacement: ${body.slice(marker)}`);
    assert.equal(r.result.truncated, body.length < full.length);
  }
  assert.ok(cuts >= 7 * (KEY.length + 5), `${cuts} cuts checked`);
  assertLearnsNothing('attack (a)', o.out);
});

test('(b) compression: the agent cannot choose it, and whatever the host compresses anyway is decoded and redacted', () => {
  const o = run.output;
  assert.equal(o.gzEncoding, 'utf8', 'asking for gzip gets text: the gateway asked for identity');
  for (const { args, r } of o.out) {
    const enc = new URL(args.url).searchParams.get('enc');
    if (!enc || !r.ok) continue;
    // Declared codings are undone; an undeclared one is looked into, and the agent gets the inside only when it held the key.
    const holdsKey = !['header', 'split-headers', 'masked'].includes(new URL(args.url).searchParams.get('format') ?? '');
    if (!enc.startsWith('lie') || holdsKey) assert.equal(r.result.bodyEncoding, 'utf8', `${args.url}: the agent gets decoded text, not bytes to inflate`);
    assert.equal(r.result.headers['content-encoding'], undefined, args.url);
    if (r.result.decoded) assert.equal(r.result.headers['content-length'], undefined, `${args.url}: the encoded length would measure the compression`);
    if (['gzip', 'deflate', 'raw-deflate', 'br', 'gzip,br', 'te', 'lie-none', 'lie-octet'].includes(enc) && !args.maxBytes) {
      assert.match(r.result.body, /\[REDACTED:partner\]/, args.url);
      assert.ok(r.result.decoded?.length > 0, `${args.url}: says what was decoded`);
    }
  }
  assertLearnsNothing('attack (b)', o.out);
});

test('every variant: chunk splits, JSON escapes, UTF-16, HTML, headers, a key cut short or split by the host, chosen text beside it, Range, redirects and error messages', () => {
  const o = run.output;
  assertLearnsNothing('run output', o);
  assertLearnsNothing('run record', run);
  const byFormat = (f: string) => o.out.find((x: any) => x.args.url.endsWith(`/v1/echo?format=${f}`))!.r;
  assert.match(byFormat('php').result.body, /provided: \[REDACTED:partner\]/);
  assert.match(byFormat('utf16').result.body, /provided: \[REDACTED:partner\]/, 'UTF-16 is read as text');
  assert.match(byFormat('truncate30').result.body, /provided: \[REDACTED:partner\]/, '30 characters of the key are a substantial part');
  const split = byFormat('split-headers').result.headers;
  assert.deepEqual([split['x-key-head'], split['x-key-tail']], ['[REDACTED:partner]', '[REDACTED:partner]'], 'each half of a key split across headers');
  assert.match(byFormat('header').result.headers['www-authenticate'], /token \[REDACTED:partner\] rejected/);
  assert.match(byFormat('masked').result.body, /sk-live-\*+/, 'a masked key (public prefix, stars, four characters) is left as the host wrote it');
  // Chosen text beside the key comes back as sent, the key replaced: the agent learns nothing from it.
  for (const { args, r } of o.out) {
    const u = new URL(args.url, 'http://x');
    if (!u.searchParams.has('q') || args.maxBytes || !r.ok || u.searchParams.get('format') || u.searchParams.get('enc')?.startsWith('lie')) continue;
    const note = JSON.parse(r.result.body).note;
    assert.equal(note, `${u.searchParams.get('q')}[REDACTED:partner]${u.searchParams.get('q2')}`);
  }
  const redirect = o.out.find((x: any) => x.args.url.endsWith('/v1/redirect')).r;
  assert.equal(redirect.ok, true);
  assert.match(redirect.result.finalUrl, /token=\[REDACTED:partner\]$/);
  assert.match(redirect.result.redirects[0], /token=\[REDACTED:partner\]$/);
  for (const x of o.out.filter((y: any) => y.args.url.includes('/v1/badredirect'))) {
    assert.equal(x.r.ok, false);
    assert.match(x.r.error.message, /invalid redirect location/);
  }
  for (const x of o.out.filter((y: any) => new URL(y.args.url, 'http://x').searchParams.get('enc') === 'lie-gzip')) assert.equal(x.r.error.code, 'tool_failed');
});

test('each exposure is counted (status, /metrics) and audited (secret.exposure, parts counted as parts)', async () => {
  const st = await g.call('GET', '/v1/status');
  const partner = st.json.secrets.secrets.find((s: any) => s.name === 'partner');
  assert.ok(partner.exposures >= keyResponses, `${partner.exposures} exposures counted for ${keyResponses} responses that held the key`);
  const ev = (await g.call('GET', '/v1/audit/events?type=secret.exposure&limit=1000')).json.events as Array<{ payload: { secret: string; count: number; partial: number; where: string[] } }>;
  assert.ok(ev.length > 0);
  const total = ev.reduce((n, e) => n + e.payload.count, 0);
  assert.ok(total >= keyResponses, `audited ${total}`);
  assert.ok(ev.some((e) => e.payload.where.includes('http.fetch')));
  assert.ok(ev.reduce((n, e) => n + e.payload.partial, 0) > 0, 'a key cut short or split is an exposure of a part');
  const metrics = (await g.call('GET', '/metrics')).text;
  assert.match(metrics, new RegExp(`clawguard_secrets_exposure_total\\{secret="partner"\\} ${partner.exposures}`));
  assert.equal((await g.call('GET', '/healthz')).status, 200);
});
