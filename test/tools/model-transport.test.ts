/**
 * The model transport against a real egress guard and real local servers: spellings of loopback
 * (fixed-seed variants) never reach the server, DNS answers are checked whole and pinned, the
 * call-scoped narrowing cannot be widened by an empty or unparsable list, and hostile provider
 * replies (too large, a compression bomb, silence, a huge error, not JSON) end in a clear code.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import type { ModelProviderConfig } from '../../src/config/index.js';
import { createEgressGuard, type Resolver } from '../../src/sandbox/index.js';
import { chat } from '../../src/tools/index.js';
import { mulberry32 } from '../helpers/prng.js';

const OK = JSON.stringify({ choices: [{ message: { content: 'pong' }, finish_reason: 'stop' }], model: 'm' });
let server: Server;
let port = 0;
const seen: Array<{ url: string; host: string | undefined }> = [];
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(OK);

before(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', host: req.headers.host });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => server.close());

const provider = (baseUrl: string, extra: Partial<ModelProviderConfig> = {}): ModelProviderConfig => ({ name: 'p', type: 'openai-compatible', baseUrl, timeoutMs: 5000, headers: {}, ...extra });
const ask = { messages: [{ role: 'user' as const, content: 'ping' }] };
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string; message: string }) => `${e.code}: ${e.message}`);

/** Ways to write an address in 127.0.0.0/8 or ::1 that the URL parser accepts. */
function loopbackSpellings(rnd: () => number, n: number): string[] {
  const b = () => Math.floor(rnd() * 256);
  const fixed = ['2130706433', '0x7f000001', '0177.0.0.1', '0x7f.0.0.01', '127.1', '127.0.1', '0X7F.1', 'localhost', 'localhost.', 'LOCALHOST', '[::1]', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::127.0.0.1]'];
  const random = Array.from({ length: n }, () => {
    const [x, y, z] = [b(), b(), b()];
    switch (Math.floor(rnd() * 4)) {
      case 0: return `127.${x}.${y}.${z}`;
      case 1: return String(0x7f000000 + x * 65536 + y * 256 + z);
      case 2: return `0x7f.0x${x.toString(16)}.${y}.0${z.toString(8)}`;
      default: return `127.${x * 256 + y}`;
    }
  });
  return [...fixed, ...random];
}

test('loopback in any spelling is refused without allowPrivate and nothing reaches the server (fixed seed)', async () => {
  const egress = createEgressGuard({ allowedDomains: ['*'], blockedDomains: [] });
  try {
    const before = seen.length;
    for (const host of loopbackSpellings(mulberry32(14), 40)) {
      const got = await codeOf(chat(provider(`http://${host}:${port}/v1`), 'm', 'k', ask, { egress }));
      assert.match(got, /^host_blocked: /, host);
    }
    assert.equal(seen.length, before, 'no spelling reached the server');
    // The same origin with the provider's opt-in is reached, and only on that origin.
    assert.equal(await codeOf(chat(provider(`http://0x7f.1:${port}/v1`, { allowPrivate: true }), 'm', 'k', ask, { egress })), 'ok');
    assert.equal(seen.length, before + 1);
  } finally {
    await egress.close();
  }
});

test('every DNS answer is checked and the connection is pinned to the checked address', async () => {
  const lookups: string[] = [];
  const answers: Record<string, Array<{ address: string; family: number }>> = {
    'model.test': [{ address: '127.0.0.1', family: 4 }],
    'meta.test': [{ address: '169.254.169.254', family: 4 }],
    'mixed.test': [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }],
  };
  const lookup: Resolver = async (h) => {
    lookups.push(h);
    return answers[h] ?? [];
  };
  const egress = createEgressGuard({ allowedDomains: ['*'], blockedDomains: [], lookup });
  try {
    assert.match(await codeOf(chat(provider(`http://meta.test:${port}/v1`, { allowPrivate: true }), 'm', undefined, ask, { egress })), /^host_blocked: .*metadata/);
    assert.match(await codeOf(chat(provider(`http://mixed.test:${port}/v1`), 'm', undefined, ask, { egress })), /^host_blocked: .*127\.0\.0\.1/);
    assert.match(await codeOf(chat(provider('http://nowhere.test/v1'), 'm', undefined, ask, { egress })), /^model_error: .*unreachable/);
    const before = seen.length;
    for (let i = 0; i < 3; i++) assert.equal(await codeOf(chat(provider(`http://model.test:${port}/v1`, { allowPrivate: true }), 'm', undefined, ask, { egress })), 'ok');
    assert.deepEqual(seen.slice(before).map((s) => s.host), Array(3).fill(`model.test:${port}`), 'the name travels as Host; the address is the checked one');
    assert.equal(lookups.filter((h) => h === 'model.test').length, 3, 'one lookup per call, none by the HTTP client');
  } finally {
    await egress.close();
  }
});

test('the call-scoped allow list narrows and can never widen (empty, unparsable, redirect not followed)', async () => {
  // A guard that is a pure block list: without narrowing it would allow anything not blocked.
  const egress = createEgressGuard({ allowedDomains: [], blockedDomains: ['evil.test'], allowPrivate: ['127.0.0.1'] });
  const url = `http://127.0.0.1:${port}/x`;
  try {
    assert.equal((await egress.fetch(url)).status, 200, 'the guard alone allows it');
    for (const list of [[], ['not a host pattern/'], ['http://127.0.0.1:1', 'bad/']]) {
      await assert.rejects(egress.fetch(url, { allowedDomains: list }), (e: any) => e.code === 'host_blocked', JSON.stringify(list));
    }
    assert.equal((await egress.fetch(url, { allowedDomains: [`http://127.0.0.1:${port}`] })).status, 200);
    handler = (_q, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    const r = await egress.fetch(url, { followRedirects: false });
    assert.equal(r.status, 302);
    assert.deepEqual(r.redirects, []);
    await assert.rejects(egress.fetch(url), (e: any) => e.code === 'host_blocked' && /metadata/.test(e.message), 'followed, it is re-checked');
  } finally {
    handler = (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(OK);
    await egress.close();
  }
});

test('hostile replies end in a clear code: too large, a compression bomb, silence, a huge error, not JSON', async () => {
  const egress = createEgressGuard({ allowedDomains: [], blockedDomains: [] });
  const p = provider(`http://127.0.0.1:${port}/v1`, { allowPrivate: true, timeoutMs: 400 });
  const big = Buffer.alloc(16 * 1024 * 1024 + 10, 0x20);
  const cases: Array<[string, (req: IncomingMessage, res: ServerResponse) => void, RegExp]> = [
    ['too large', (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(big), /^model_error: .*larger than 16777216 bytes/],
    ['bomb', (_q, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(big)), /^model_error: .*larger than 16777216 bytes/],
    ['silence', () => undefined, /^timeout: /],
    ['huge error', (_q, res) => res.writeHead(500).end('e'.repeat(5 * 1024 * 1024)), /^model_error: model provider answered 500: \(5242880 bytes, not shown\)$/],
    ['not JSON', (_q, res) => res.writeHead(200).end('{"choices": ['), /^model_error: .*invalid JSON/],
    ['no choices', (_q, res) => res.writeHead(200).end('{"choices": {"0": 1}}'), /^model_error: /],
  ];
  try {
    for (const [name, h, want] of cases) {
      handler = h;
      assert.match(await codeOf(chat(p, 'm', 'k', ask, { egress })), want, name);
    }
    handler = (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(OK);
    assert.equal(await codeOf(chat(p, 'm', 'k', ask, { egress })), 'ok', 'the guard still serves the next call');
  } finally {
    handler = (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(OK);
    await egress.close();
  }
});
