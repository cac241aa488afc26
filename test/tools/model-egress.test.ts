/**
 * model.chat through a real gateway goes through the principal's egress guard, narrowed to the
 * provider's origin: a private provider needs allowPrivate (the provider's own, or the sandbox's),
 * tricks that name loopback or metadata are refused, a redirect is not followed, and the provider's
 * origin is not thereby opened to the agent's http.fetch. Every refusal is the run's answer, is
 * logged by the guard and recorded in the audit log; the gateway answers /healthz after each.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { type ModelLookalike, startModelLookalike } from '../helpers/model-lookalike.js';

let model: ModelLookalike;
let redirector: Server;
let redirectorHits = 0;
let g: TestGateway;
const logLines: any[] = [];

/** A name other than localhost that /etc/hosts maps to loopback, if there is one. */
function hostsFileLoopbackName(): string {
  try {
    for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
      const [addr, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (addr?.startsWith('127.') || addr === '::1') for (const n of names) if (n && n !== 'localhost' && !n.includes('localhost') && /^[a-z0-9.-]+$/i.test(n)) return n;
    }
  } catch {
    /* no hosts file: localhost is still resolved by the system */
  }
  return 'localhost';
}

before(async () => {
  model = await startModelLookalike([{ content: 'hello from the model' }]);
  const port = new URL(model.url).port;
  redirector = createServer((req, res) => {
    redirectorHits++;
    req.resume();
    const to = req.url?.includes('meta') ? 'http://169.254.169.254/latest/meta-data/' : `${model.url}/v1/chat/completions`;
    res.writeHead(req.url?.includes('307') ? 307 : 302, { location: to }).end();
  });
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  const rport = (redirector.address() as { port: number }).port;
  const dir = tempDir('cg-model-egress-');
  // Returns what the model answered, or the error's code and message; then what http.fetch got.
  const entry = writeAgent(dir, 'chat.js', `export default async (input, ctx) => {
    const out = {};
    try { out.reply = await ctx.model.chat({ messages: [{ role: 'user', content: input?.content ?? 'hi' }] }); }
    catch (e) { out.error = { code: e.code, message: e.message }; }
    if (input?.fetch) out.fetch = await ctx.tools.call('http.fetch', { url: input.fetch });
    return out;
  }`);
  const open = { tools: { allow: ['http.fetch'] }, entry };
  // Hostile values across the boundary, then many calls: every one ends in a code, none reaches metadata.
  const hostile = writeAgent(dir, 'hostile.js', `export default async (input, ctx) => {
    const codes = {};
    const note = async (k, f) => { try { await f(); codes[k] = 'ok'; } catch (e) { codes[k] = String(e && e.code); } };
    const msg = (content) => ({ messages: [{ role: 'user', content }] });
    await note('getter', () => ctx.model.chat({ get messages() { return [{ role: 'user', content: 'g' }]; } }));
    await note('proxy', () => ctx.model.chat(new Proxy(msg('p'), { get: (t, k) => (k === 'messages' ? [{ role: 'user', content: 'p' }] : t[k]) })));
    await note('bigint', () => ctx.model.chat({ messages: [{ role: 'user', content: 1n }] }));
    await note('symbol', () => ctx.model.chat({ messages: [{ role: 'user', content: Symbol('s') }] }));
    const cyclic = msg('c'); cyclic.self = cyclic;
    await note('cyclic', () => ctx.model.chat(cyclic));
    let deep = {}; for (let i = 0; i < 5000; i++) deep = { d: deep };
    await note('deep', () => ctx.model.chat({ ...msg('d'), tools: [{ name: 't', parameters: deep }] }));
    await note('five-mb', () => ctx.model.chat(msg('x'.repeat(5 * 1024 * 1024))));
    JSON.stringify = () => '{"messages":[{"role":"user","content":"forged"}]}';
    JSON.parse = () => ({ forged: true });
    Array.prototype.map = function () { return []; };
    await note('replaced-globals', () => ctx.model.chat(msg('r')));
    const many = await Promise.all(Array.from({ length: 300 }, () => ctx.model.chat(msg('m')).then(() => 'ok', (e) => String(e && e.code))));
    codes.many = [...new Set(many)];
    return codes;
  }`);
  const p = (name: string, baseUrl: string, extra: Record<string, unknown> = {}) => [name, { type: 'openai-compatible', baseUrl, ...extra }] as const;
  const providers = Object.fromEntries([
    p('plain', `${model.url}/v1`),
    p('local', `${model.url}/v1`, { allowPrivate: true }),
    p('decimal', `http://2130706433:${port}/v1`),
    p('hex', `http://0x7f.1:${port}/v1`),
    p('mapped', `http://[::ffff:127.0.0.1]:${port}/v1`),
    p('v6loop', `http://[::1]:${port}/v1`),
    p('dot', `http://localhost.:${port}/v1`),
    p('hosts', `http://${hostsFileLoopbackName()}:${port}/v1`),
    // Metadata stays unreachable whatever the opt-in says.
    p('metadata', 'http://169.254.169.254/v1', { allowPrivate: true }),
    p('metamapped', 'http://[::ffff:a9fe:a9fe]/v1', { allowPrivate: true }),
    p('redirect', `http://127.0.0.1:${rport}/meta/v1`, { allowPrivate: true }),
    p('hop', `http://127.0.0.1:${rport}/307/v1`, { allowPrivate: true }),
    // Keys from the broker: the refused one must never be fetched.
    p('keyedMeta', 'http://169.254.169.254/v1', { allowPrivate: true, apiKeySecret: 'metakey' }),
    p('keyedLocal', `${model.url}/v1`, { allowPrivate: true, apiKeySecret: 'localkey' }),
  ]);
  process.env.CG_MODEL_EGRESS_KEY = 'sk-model-egress-test-0123456789abcdef';
  const secrets = {
    metakey: { source: 'env', env: 'CG_MODEL_EGRESS_KEY', allowedHosts: ['http://169.254.169.254'] },
    localkey: { source: 'env', env: 'CG_MODEL_EGRESS_KEY', allowedHosts: [model.url] },
  };
  const agents: Record<string, unknown> = {};
  for (const name of Object.keys(providers)) agents[name] = { ...open, model: `${name}/m-1` };
  // The sandbox's own allowPrivate opens the provider too (and, there, http.fetch: it is the agent's list).
  agents.sandboxed = { ...open, model: 'plain/m-1', sandbox: { networkAccess: { allowedDomains: ['127.0.0.1'], allowPrivate: [`127.0.0.1:${port}`] } } };
  // An operator's block wins over the provider's opt-in.
  agents.blocked = { ...open, model: 'local/m-1', sandbox: { networkAccess: { blockedDomains: ['127.0.0.1'] } } };
  // The agent may fetch from the model's host by name, but the model's opt-in does not make its address reachable.
  agents.fetcher = { ...open, model: 'local/m-1', sandbox: { networkAccess: { allowedDomains: ['127.0.0.1'] } } };
  // The agent's hosts are open to its http.fetch (loopback included); the model call still goes nowhere else.
  agents.wide = { ...open, model: 'hop/m-1', sandbox: { networkAccess: { allowedDomains: ['127.0.0.1'], allowPrivate: ['127.0.0.1'] } } };
  agents.hostileBlocked = { entry: hostile, model: 'metadata/m-1' };
  agents.hostileLocal = { entry: hostile, model: 'local/m-1' };
  g = await startGateway({ models: providers, agents, secrets }, { logLines });
});
after(async () => {
  await g?.close();
  await model?.close();
  redirector?.close();
});

const run = async (profile: string, input: unknown = {}) => {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile, input });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  assert.equal((await g.call('GET', '/healthz')).status, 200, 'the gateway still answers');
  return { runId: r.json.runId as string, ...(r.json.output as { reply?: any; error?: { code: string; message: string }; fetch?: any }) };
};

test('a provider on loopback without allowPrivate is refused before anything is sent; with it, it answers', async () => {
  const before = model.requests.length;
  const refused = await run('plain');
  assert.equal(refused.error?.code, 'host_blocked', JSON.stringify(refused));
  assert.match(refused.error!.message, /loopback.*models\.plain\.allowPrivate: true/);
  assert.equal(model.requests.length, before, 'nothing reached the provider');
  const ok = await run('local');
  assert.equal(ok.reply?.content, 'hello from the model', JSON.stringify(ok));
  assert.equal(model.requests.length, before + 1);
  assert.equal(model.requests.at(-1)!.headers['accept-encoding'], 'identity', 'sent by the guard');
});

test('the sandbox allowPrivate opens the provider as well; a blockedDomains entry wins over the opt-in', async () => {
  const ok = await run('sandboxed');
  assert.equal(ok.reply?.content, 'hello from the model', JSON.stringify(ok));
  const blocked = await run('blocked');
  assert.equal(blocked.error?.code, 'host_blocked', JSON.stringify(blocked));
  assert.match(blocked.error!.message, /blockedDomains/);
});

test('names and literals that mean loopback or metadata are refused (decimal, hex, IPv6-mapped, ::1, trailing dot, /etc/hosts)', async () => {
  const before = model.requests.length;
  for (const profile of ['decimal', 'hex', 'mapped', 'v6loop', 'dot', 'hosts', 'metadata', 'metamapped']) {
    const r = await run(profile);
    assert.equal(r.error?.code, 'host_blocked', `${profile}: ${JSON.stringify(r)}`);
    // An IPv4-mapped IPv6 address is never reachable, whatever it maps to.
    assert.match(r.error!.message, profile === 'mapped' || profile === 'metamapped' ? /ipv4-mapped/ : profile === 'metadata' ? /metadata/ : /loopback/, profile);
  }
  assert.equal(model.requests.length, before, 'nothing reached the provider');
  // The guard logged each refusal as a deny of that host.
  const denies = logLines.filter((l) => l.egress?.decision === 'deny');
  assert.ok(denies.some((l) => l.egress.host === '169.254.169.254'), 'metadata refusal logged');
  assert.ok(denies.length >= 8, `${denies.length} denies logged`);
});

test('a redirect from the provider is not followed: not to metadata, not to another origin the agent may reach', async () => {
  const before = model.requests.length;
  const hits = redirectorHits;
  for (const profile of ['redirect', 'hop', 'wide']) {
    const r = await run(profile);
    assert.equal(r.error?.code, 'model_error', `${profile}: ${JSON.stringify(r)}`);
    assert.match(r.error!.message, /answered 30[27] \(a redirect; model calls do not follow redirects\)/);
    assert.ok(!r.error!.message.includes('169.254'), 'where it pointed is not shown');
  }
  assert.equal(redirectorHits, hits + 3, 'the provider was asked once per call');
  assert.equal(model.requests.length, before, 'the redirect target was never asked');
  assert.ok(!logLines.some((l) => l.egress?.host === '169.254.169.254' && l.egress.decision === 'allow'));
});

test("the provider's opt-in does not open its origin to the agent's http.fetch", async () => {
  const r = await run('fetcher', { fetch: `${model.url}/v1/chat/completions` });
  assert.equal(r.reply?.content, 'hello from the model', JSON.stringify(r));
  assert.equal(r.fetch.ok, false, JSON.stringify(r.fetch));
  assert.equal(r.fetch.error.code, 'host_blocked');
  assert.match(r.fetch.error.message, /loopback/);
});

test('a refused model call is recorded in the audit log as the call outcome', async () => {
  const r = await run('metadata');
  const ev = (await g.call('GET', `/v1/audit/events?runId=${r.runId}`)).json.events as Array<{ type: string; action: string; payload: any }>;
  const call = ev.find((e) => e.action === 'model.chat' && JSON.stringify(e.payload ?? {}).includes('host_blocked'));
  assert.ok(call, JSON.stringify(ev.map((e) => [e.type, e.action, e.payload])));
});

test('hostile values and 300 calls from the agent: each ends in a code, the blocked provider is never reached', async () => {
  for (const profile of ['hostileBlocked', 'hostileLocal']) {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile, input: {} });
    assert.ok(['succeeded', 'failed'].includes(r.json.state), JSON.stringify(r.json).slice(0, 2000));
    assert.equal((await g.call('GET', '/healthz')).status, 200, 'the gateway still answers');
    const codes = r.json.output as Record<string, unknown>;
    const want = profile === 'hostileBlocked' ? 'host_blocked' : 'ok';
    // What the bridge lets through is decided by the guard; what it refuses (too large, too deep) never gets that far.
    for (const k of ['getter', 'proxy', 'replaced-globals']) assert.equal(codes[k], want, `${profile} ${k}: ${JSON.stringify(codes)}`);
    assert.deepEqual(codes.many, [want], profile);
    assert.equal(codes['five-mb'], 'bad_agent_data');
  }
  assert.ok(!logLines.some((l) => l.egress?.host === '169.254.169.254' && l.egress.decision === 'allow'), 'metadata never allowed');
});

test("a refused provider's API key is never fetched: no secret.use for it, while the allowed one records its use", async () => {
  const refused = await run('keyedMeta');
  assert.equal(refused.error?.code, 'host_blocked', JSON.stringify(refused));
  const ok = await run('keyedLocal');
  assert.equal(ok.reply?.content, 'hello from the model', JSON.stringify(ok));
  assert.equal(model.requests.at(-1)!.headers.authorization, `Bearer ${process.env.CG_MODEL_EGRESS_KEY}`);
  const ev = (await g.call('GET', '/v1/audit/events?type=secret.use&limit=1000')).json.events as Array<{ action: string; payload: any }>;
  const uses = ev.filter((e) => e.action === 'secret.use').map((e) => e.payload?.target);
  assert.ok(uses.includes('model:keyedLocal'), JSON.stringify(uses));
  assert.ok(!uses.includes('model:keyedMeta'), JSON.stringify(uses));
});
