import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { formsOf } from '../../src/secrets/index.js';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { type ModelLookalike, startModelLookalike } from '../helpers/model-lookalike.js';

// A real gateway, a real thread-bound run, real HTTP on loopback. The only look-alike is the model
// API (test/helpers/model-lookalike.ts). The agent tries every way it has to get a secret out.
const PARTNER = 'ptk_live_9f8e7d6c5b4a3210-"q"-ZZ';
const LLM_KEY = 'sk-llm-e2e-0a1b2c3d4e5f6a7b8c9d';
const OTHER = 'other-agents-secret-ABCDEFGH';

let g: TestGateway;
let model: ModelLookalike;
let server: Server;
let port = 0;
const logLines: unknown[] = [];
const seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
let dir: string;
let runJson: any;

/** Every encoded shape an echoing server can give a value. */
function echoes(v: string): Record<string, string> {
  const b = Buffer.from(v);
  return { raw: v, base64: b.toString('base64'), base64url: b.toString('base64url'), hex: b.toString('hex'), url: encodeURIComponent(v), json: JSON.stringify({ v }) };
}

/** Fragments (12 characters) of every encoded form: none may appear anywhere the agent or the log can see. */
function fragments(v: string): string[] {
  const out = new Set<string>();
  for (const f of formsOf(v)) for (let i = 0; i + 12 <= f.length; i += 3) out.add(f.slice(i, i + 12));
  return [...out];
}

function assertClean(where: string, text: string): void {
  for (const v of [PARTNER, LLM_KEY, OTHER]) for (const f of fragments(v)) assert.ok(!text.includes(f), `${where} contains ${JSON.stringify(f)} (a fragment of a secret)`);
}

before(async () => {
  dir = tempDir('cg-secrets-e2e-');
  const creds = join(dir, 'creds.json');
  writeFileSync(creds, JSON.stringify({ partner: { token: PARTNER } }), { mode: 0o600 });
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    if (req.url === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/collect` });
      return res.end();
    }
    // An echo service: whatever credentials arrived, sent back in every encoding (and in a header).
    const got = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '').replace(/^(Bearer|Basic) /, '');
    const value = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(got, 'base64').toString('utf8') : got;
    res.writeHead(200, { 'content-type': 'application/json', 'x-echo': encodeURIComponent(value) });
    res.end(JSON.stringify({ youSent: req.headers.authorization ?? req.headers['x-api-key'] ?? null, ...echoes(value) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  process.env.CG_E2E_LLM_KEY = LLM_KEY;
  process.env.CG_E2E_OTHER = OTHER;
  model = await startModelLookalike(() => {
    const auth = String(model.requests[model.requests.length - 1]!.headers.authorization ?? '');
    const key = auth.replace(/^Bearer /, '');
    return { content: `You called me with ${auth}; base64 ${Buffer.from(key).toString('base64')}; hex ${Buffer.from(key).toString('hex')}` };
  });
  // The agent module lives outside the agent's allowed paths (the gateway refuses to start otherwise).
  const agent = writeAgent(tempDir('cg-secrets-agent-'), 'leaky.js', `export default async (input, ctx) => {
    const o = {};
    const base = 'http://localhost:${port}';
    o.bearer = await ctx.tools.call('http.fetch', { url: base + '/echo', auth: { secret: 'partner', scheme: 'bearer' } });
    o.basic = await ctx.tools.call('http.fetch', { url: base + '/echo', auth: { secret: 'partner', scheme: 'basic' } });
    o.header = await ctx.tools.call('http.fetch', { url: base + '/echo', headers: { 'x-api-key': { $secret: 'partner' } } });
    o.otherHost = await ctx.tools.call('http.fetch', { url: 'http://127.0.0.1:${port}/collect', auth: { secret: 'partner' } });
    o.redirect = await ctx.tools.call('http.fetch', { url: base + '/redirect', auth: { secret: 'partner' } });
    o.ungranted = await ctx.tools.call('http.fetch', { url: base + '/echo', auth: { secret: 'other' } });
    o.unknown = await ctx.tools.call('http.fetch', { url: base + '/echo', auth: { secret: 'no-such-secret' } });
    o.file = await ctx.tools.call('fs.read', { path: ${JSON.stringify(creds)} });
    o.model = await ctx.model.chat({ messages: [{ role: 'user', content: 'which key did you get?' }] });
    ctx.log.info('what I saw', { bearer: o.bearer, file: o.file, model: o.model });
    ctx.log.warn(JSON.stringify(o.header) + ' ' + JSON.stringify(o.basic));
    // Tries to smuggle what it saw out through a URL to an allowed host (without a secret).
    o.exfil = await ctx.tools.call('http.fetch', { url: base + '/exfil?d=' + encodeURIComponent(JSON.stringify(o.bearer)) });
    return o;
  }`);
  g = await startGateway(
    {
      models: { partnerllm: { type: 'openai-compatible', baseUrl: `${model.url}/v1`, apiKeySecret: 'llmkey' } },
      secrets: {
        // Plain http on a test port: a binding says so (a bare host would be https on 443 only).
        partner: { source: 'file', file: creds, pointer: '/partner/token', agents: ['leaky'], allowedHosts: [`http://localhost:${port}`] },
        llmkey: { source: 'env', env: 'CG_E2E_LLM_KEY', allowedHosts: [new URL(model.url).origin] },
        other: { source: 'env', env: 'CG_E2E_OTHER', agents: ['someone-else'], allowedHosts: [`http://localhost:${port}`] },
      },
      agents: {
        leaky: {
          entry: agent,
          model: 'partnerllm/m-1',
          tools: { allow: ['http.fetch', 'fs.read'] },
          sandbox: { mode: 'strict', fileAccess: { allowedPaths: [dir] }, networkAccess: { allowedDomains: ['localhost', '127.0.0.1'], blockedDomains: ['*'], allowPrivate: ['localhost', '127.0.0.1'] } },
        },
      },
    },
    { logLines },
  );
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'leaky', input: { please: 'show me the keys' } });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  runJson = r.json;
});

after(async () => {
  await g?.close();
  await model?.close();
  server?.close();
});

test('injection works: the value reaches the allowed host (and only it), in each header form', () => {
  const o = runJson.output;
  assert.equal(o.bearer.ok, true, JSON.stringify(o.bearer));
  assert.equal(o.bearer.result.status, 200);
  const echoHits = seen.filter((s) => s.path === '/echo');
  assert.equal(echoHits[0]!.headers.authorization, `Bearer ${PARTNER}`);
  assert.equal(echoHits[1]!.headers.authorization, `Basic ${Buffer.from(PARTNER).toString('base64')}`);
  assert.equal(echoHits[2]!.headers['x-api-key'], PARTNER);
  assert.equal(model.requests[0]!.headers.authorization, `Bearer ${LLM_KEY}`, 'the model key from the broker (models.*.apiKeySecret)');
});

test('what the agent got back is redacted in every form: tool results, response headers, file reads, model replies', () => {
  const o = runJson.output;
  const body = JSON.parse(o.bearer.result.body);
  for (const k of ['raw', 'base64', 'base64url', 'hex', 'url', 'json']) assert.match(body[k], /\[REDACTED:partner\]/, `${k} form`);
  assert.equal(JSON.parse(body.json).v, '[REDACTED:partner]', 'JSON inside a JSON string');
  assert.match(String(o.bearer.result.headers['x-echo']), /\[REDACTED:partner\]/);
  assert.match(String(o.basic.result.body), /"youSent":"Basic \[REDACTED:partner\]"/);
  assert.match(String(o.header.result.body), /"youSent":"\[REDACTED:partner\]"/);
  assert.match(o.file.result.content, /\[REDACTED:partner\]/);
  assert.match(o.model.content, /You called me with Bearer \[REDACTED:llmkey\]; base64 \[REDACTED:llmkey\]; hex \[REDACTED:llmkey\]/);
  assertClean('the run record', JSON.stringify(runJson));
});

test('sending it anywhere else is refused and recorded; nothing reaches the other host', () => {
  const o = runJson.output;
  assert.equal(o.otherHost.error.code, 'host_blocked', JSON.stringify(o.otherHost));
  assert.match(o.otherHost.error.message, new RegExp(`may only be sent to its allowedHosts \\(http://localhost:${port}\\)`));
  assert.equal(o.redirect.error.code, 'host_blocked', 'a redirect to another host is re-decided and refused');
  assert.equal(o.ungranted.error.code, 'denied');
  assert.equal(o.unknown.error.code, 'secret_unavailable');
  assert.equal(seen.filter((s) => s.path === '/collect').length, 0, 'the other host never saw a request');
  // Only the echo service and the first hop of the redirect (both on localhost) ever carried credentials.
  for (const s of seen) if (s.path !== '/echo' && s.path !== '/redirect') assert.equal(s.headers.authorization, undefined, `${s.path} got credentials`);
  assert.equal(seen.find((s) => s.path === '/redirect')!.headers.authorization, `Bearer ${PARTNER}`);
  const exfil = seen.find((s) => s.path.startsWith('/exfil'))!;
  assertClean('the exfiltration attempt', decodeURIComponent(exfil.path));
});

test('the log never holds a value, although the agent logged everything it saw', () => {
  const text = logLines.map((l) => JSON.stringify(l)).join('\n');
  assert.match(text, /what I saw/);
  assert.match(text, /\[REDACTED:partner\]/);
  assertClean('the gateway log', text);
});

test('nothing under the state dir (store, audit log, run outputs) holds a value in any form', () => {
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  const files = walk(join(g.dir, 'state'));
  assert.ok(files.length > 0);
  for (const f of files) assertClean(f, readFileSync(f).toString('latin1'));
});

test('status, the operator API and /metrics show uses, refusals and exposures — never values', async () => {
  const st = await g.call('GET', '/v1/status');
  const partner = st.json.secrets.secrets.find((s: any) => s.name === 'partner');
  assert.equal(partner.health, 'ok');
  assert.equal(partner.source, 'file');
  assert.equal(partner.uses24h, 4, 'bearer, basic, header, and the first hop of the redirect');
  assert.equal(partner.denials24h, 2);
  assert.deepEqual(partner.grants, ['leaky']);
  assert.ok(partner.exposures >= 8, `exposures ${partner.exposures}`);
  const list = await g.call('GET', '/v1/secrets');
  assert.deepEqual(list.json.secrets.map((s: any) => s.name), ['llmkey', 'other', 'partner']);
  assertClean('GET /v1/secrets', list.text);
  const one = await g.call('GET', '/v1/secrets/partner');
  assert.equal(one.json.name, 'partner');
  assert.equal((await g.call('GET', '/v1/secrets/nope')).status, 404);
  assert.equal((await g.call('GET', '/v1/secrets/bad%20name')).status, 400);
  assert.equal((await g.call('GET', '/v1/secrets', undefined, { authorization: 'Bearer wrong' })).status, 401);
  const rot = await g.call('POST', '/v1/secrets/other/rotate');
  assert.equal(rot.status, 200, rot.text);
  assert.deepEqual([rot.json.mode, rot.json.changed], ['reread', false]);
  assert.equal((await g.call('POST', '/v1/secrets/nope/rotate')).status, 404);
  const metrics = (await g.call('GET', '/metrics')).text;
  assert.match(metrics, /clawguard_secrets_access_total\{secret="partner",result="allowed"\} 4/);
  assert.match(metrics, /clawguard_secrets_access_total\{secret="partner",result="host_blocked"\} 2/);
  assert.match(metrics, /clawguard_secrets_access_total\{secret="other",result="denied"\} 1/);
  assert.match(metrics, /clawguard_secrets_exposure_total\{secret="partner"\} \d+/);
  assert.match(metrics, /clawguard_secrets_rotation_age_seconds\{secret="partner"\} \d+/);
  assert.match(metrics, /clawguard_secrets_rotation_overdue\{secret="partner"\} 0/);
  assertClean('/metrics', metrics);
});
