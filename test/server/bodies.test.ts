/**
 * Request bodies that later code cannot handle are 400 at the edge, naming where the value is,
 * at both doors: nesting that overflows JSON.stringify, numbers beyond a double, lone surrogates,
 * prototype keys, and expiries beyond what a Date holds. Then a fixed-seed fuzz across the
 * operator routes: never a 500, always our error shape, nothing stored.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { readEvents } from '../../src/audit/index.js';
import { generateEd25519, publicKeyPem } from '../../src/identity/index.js';
import { startGateway, tempDir, type TestGateway, writeAgent } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

const dir = tempDir('cg-bodies-');
let g: TestGateway;
before(async () => {
  g = await startGateway({
    agents: { ok: { entry: writeAgent(dir, 'ok.js', 'export default async (i) => ({ echo: i });'), warmPool: 0 }, anonymous: { tools: { allow: ['system.time'] }, warmPool: 0 } },
    security: { zeroTrust: { enabled: true, policies: { agentCommunication: { requireAuthentication: false } } } },
  });
});
after(async () => g?.close());

const nested = (depth: number, leaf = '0') => '['.repeat(depth) + leaf + ']'.repeat(depth);
const runWith = (inputJson: string) => g.call('POST', '/v1/runs?wait=1', `{"profile":"ok","input":${inputJson}}`);

test('run input nested 10,000 levels deep is 400 naming the depth (it overflowed JSON.stringify: 500); 64 levels run', async () => {
  const deep = await runWith(nested(10_000));
  assert.equal(deep.status, 400, deep.text);
  assert.equal(deep.json.error.code, 'bad_request');
  assert.match(deep.json.error.message, /^body\.input(\[0\])+: nested deeper than 64 levels/);
  const edge = await runWith(nested(63));
  assert.equal(edge.status, 200, edge.text);
  assert.equal(edge.json.state, 'succeeded');
  assert.equal((await runWith(nested(64))).status, 400, 'one level more than the bound (the body object is level 1)');
  const wide = await runWith(`{"a":${nested(70, '{"b":1}')}}`);
  assert.match(wide.json.error.message, /^body\.input\.a(\[0\])+: nested deeper/);
});

test('values that cannot be stored as sent: Infinity from 1e400, lone surrogates (in a value or a key), prototype keys', async () => {
  const cases: Array<[string, RegExp]> = [
    ['{"n": 1e400}', /^body\.input\.n: the number is too large/],
    ['[1, -1e999]', /^body\.input\[1\]: the number is too large/],
    ['{"s": "a\\ud800b"}', /^body\.input\.s: the string contains a lone UTF-16 surrogate/],
    ['["\\udc00"]', /^body\.input\[0\]: the string contains a lone UTF-16 surrogate/],
    ['{"k\\ud83d": 1}', /^body\.input: a key contains a lone UTF-16 surrogate/],
    ['{"__proto__": {"admin": true}}', /^body\.input\.__proto__: the key "__proto__" is not accepted/],
    ['{"x": {"constructor": {"prototype": {"admin": true}}}}', /^body\.input\.x\.constructor: a "constructor" object with a "prototype" key/],
  ];
  for (const [input, message] of cases) {
    const r = await runWith(input);
    assert.equal(r.status, 400, `${input}: ${r.text}`);
    assert.match(r.json.error.message, message, input);
  }
  // a well-formed pair is fine
  const ok = await runWith('{"s": "\\ud83d\\ude00", "big": 1.7e308}');
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json.output, { echo: { s: '😀', big: 1.7e308 } });
  assert.ok(!g.gw.store.runs.list({ limit: 1000 }).some((r) => JSON.stringify(r.input ?? null).includes('admin')), 'nothing refused was stored');
});

test('the agent door bounds its JSON the same way', async () => {
  const send = async (body: string) => {
    const r = await request(`${g.url}/v1/tools/system.time`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: r.statusCode, json: (await r.body.json()) as any };
  };
  const deep = await send(`{"a":${nested(10_000)}}`);
  assert.equal(deep.status, 400);
  assert.match(deep.json.error.message, /^body\.a(\[0\])+: nested deeper than 64 levels/);
  assert.equal((await send('{"__proto__": 1}')).status, 400);
  assert.equal((await send('{"x": "\\ud800"}')).status, 400);
  assert.equal((await send('{}')).status, 200, 'a plain call goes through');
});

test('expires beyond what a Date holds (1e308 s) or more than ten years ahead is 400 naming expires, for tokens and agents; nothing is created or recorded', async () => {
  const jwk = publicKeyPem(generateEd25519().publicKey);
  for (const expires of [1e308, '1e308', 1e15, '9999-12-31', '5000d']) {
    const t = await g.call('POST', '/v1/operator-tokens', { name: 'far-future', scopes: 'read', expires });
    assert.equal(t.status, 400, `${expires}: ${t.text}`);
    assert.match(t.json.error.message, /^expires: /);
    const a = await g.call('POST', '/v1/agents', { agentId: 'far-future', publicKey: jwk, expires });
    assert.equal(a.status, 400, `${expires}: ${a.text}`);
    assert.match(a.json.error.message, /^expires: /);
  }
  assert.equal((await g.call('POST', '/v1/operator-tokens', { name: 'near', scopes: 'read', expires: '3650d' })).status, 201, 'ten years is accepted');
  assert.equal((await g.call('GET', '/v1/agents/far-future')).status, 404);
  const events = readEvents(g.gw.store.db, { limit: 10_000 });
  assert.ok(!events.some((e) => (e.type === 'identity.operator_token.created' || e.type === 'identity.agent.registered') && JSON.stringify(e).includes('far-future')), 'no record of a change that was refused');
});

/** A random JSON text with hostile leaves and shapes (fixed seed). */
function hostileJson(rand: () => number, depth = 0): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const leaves = ['1e400', '-1e999', '"\\ud800"', '"\\udfff x"', '1e308', '0', '-0', '"x"', 'null', 'true', '"\\u0000"', '123456789012345678901234567890'];
  const r = rand();
  if (depth > 3 || r < 0.3) return pick(leaves);
  if (r < 0.4) return nested(60 + Math.floor(rand() * 20));
  if (r < 0.7) return `[${Array.from({ length: 1 + Math.floor(rand() * 3) }, () => hostileJson(rand, depth + 1)).join(',')}]`;
  const keys = ['a', '__proto__', 'constructor', 'prototype', '"k\\ud800"', 'name', 'scopes', 'profile', 'input', 'expires', 'agentId', 'publicKey', 'trustLevel'];
  const fields = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => {
    const k = pick(keys);
    return `${k.startsWith('"') ? k : JSON.stringify(k)}:${k === 'constructor' && rand() < 0.5 ? '{"prototype":{}}' : hostileJson(rand, depth + 1)}`;
  });
  return `{${fields.join(',')}}`;
}

test('fuzz (fixed seed): hostile bodies on every operator route never get a 500, always our error shape, and leave no created or registered record', async () => {
  const rand = mulberry32(13);
  const routes = ['/v1/runs', '/v1/operator-tokens', '/v1/agents', '/v1/policy/explain', '/v1/runs?wait=1'];
  const before = readEvents(g.gw.store.db, { limit: 10_000 }).length;
  for (let i = 0; i < 150; i++) {
    const path = routes[i % routes.length]!;
    const body = hostileJson(rand);
    const r = await g.call('POST', path, body);
    assert.ok(r.status < 500, `${path} ${body.slice(0, 200)} → ${r.status} ${r.text.slice(0, 300)}`);
    if (r.status >= 400) {
      assert.equal(typeof r.json?.error?.code, 'string', r.text);
      assert.ok(!/at .*\.js:\d+/.test(r.text), 'no stack trace');
    }
  }
  const created = readEvents(g.gw.store.db, { limit: 10_000 }).slice(before).filter((e) => e.type === 'identity.operator_token.created' || e.type === 'identity.agent.registered');
  assert.deepEqual(created, []);
  assert.equal((await request(`${g.url}/healthz`)).statusCode, 200);
});
