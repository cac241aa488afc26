/**
 * Injected values in every other crossing: what http.fetch returns (headers, finalUrl, redirects),
 * error messages, fs.read of a file that holds a value (with maxBytes at every offset around it), the
 * agent's own logs, the gateway log, the audit log and everything under the state dir — before and
 * after a rotation, when the previous value is still in its grace period and a host still echoes it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';

const V1 = 'svc-key-one-7Hq2Lx9PzR4mWc8VbN1sTg6YdK3e';
const V2 = 'svc-key-two-Ua5Jf0Qk2Ze7Rn4Xp9Ly3Mh8Wc1o';

let server: Server;
let port = 0;
let g: TestGateway;
let dir: string;
const logLines: unknown[] = [];
const runs: any[] = [];

function windows(v: string): string[] {
  const secret = v.slice('svc-key-one-'.length);
  const out = new Set<string>();
  for (const s of [secret, Buffer.from(v).toString('base64').slice(16), Buffer.from(secret).toString('hex'), encodeURIComponent(secret)]) for (let i = 0; i + 8 <= s.length; i++) out.add(s.slice(i, i + 8));
  return [...out];
}
const WINDOWS = [...windows(V1), ...windows(V2)];
function assertClean(where: string, text: string): void {
  for (const w of WINDOWS) assert.ok(!text.includes(w), `${where} holds ${JSON.stringify(w)} of a value: …${text.slice(Math.max(0, text.indexOf(w) - 80), text.indexOf(w) + 40)}…`);
}

const AGENT = `export default async (input, ctx) => {
  const out = {};
  const auth = { secret: 'svc' };
  out.echo = await ctx.tools.call('http.fetch', { url: input.base + '/echo', auth });
  out.redirect = await ctx.tools.call('http.fetch', { url: input.base + '/redirect', auth });
  out.bad = [];
  for (let n = 250; n <= 310; n += 3) out.bad.push(await ctx.tools.call('http.fetch', { url: input.base + '/bad?n=' + n, auth }));
  // A file that holds a value: the whole of it, then maxBytes at every offset around the value.
  out.file = await ctx.tools.call('fs.read', { path: input.file });
  const at = input.offset;
  out.cuts = [];
  for (let m = at - 2; m <= at + input.length + 2; m++) out.cuts.push(await ctx.tools.call('fs.read', { path: input.file, maxBytes: m }));
  ctx.log.info('everything I saw', { echo: out.echo, redirect: out.redirect, bad: out.bad[5], file: out.file });
  ctx.log.warn(JSON.stringify(out.cuts.map((c) => c.ok ? c.result.content : c.error.message)));
  return out;
}`;

let previous = '';
let current = '';

before(async () => {
  dir = tempDir('cg-crossings-');
  server = createServer((req, res) => {
    const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (key !== current) [previous, current] = [current, key];
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/redirect') return void res.writeHead(302, { location: `/landing?k=${encodeURIComponent(key)}` }).end();
    if (u.pathname === '/landing') return void res.end(`landed with ${u.searchParams.get('k')}`);
    if (u.pathname === '/bad') return void res.writeHead(302, { location: `http://[${'x'.repeat(Number(u.searchParams.get('n')))}${key}` }).end();
    res.writeHead(401, { 'content-type': 'application/json', 'x-previous-key': previous, 'set-cookie': [`k=${key}`, `old=${previous}`] });
    res.end(JSON.stringify({ error: `key ${key} rejected; ${previous ? `${previous} was revoked` : 'no previous key'}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  // The agent reads files in ws/; its own module stays outside the paths it may reach.
  const ws = join(dir, 'ws');
  mkdirSync(ws);
  const file = join(ws, 'notes.txt');
  const prefix = `# service notes\nSVC_KEY=`;
  writeFileSync(file, `${prefix}${V1}\n# end\n`);
  g = await startGateway(
    {
      secrets: { svc: { source: 'local', agents: ['crosser'], allowedHosts: [`http://localhost:${port}`], gracePeriod: '1h' } },
      agents: {
        crosser: {
          entry: writeAgent(dir, 'crosser.js', AGENT),
          tools: { allow: ['http.fetch', 'fs.read'] },
          sandbox: { mode: 'strict', fileAccess: { allowedPaths: [ws] }, networkAccess: { allowedDomains: ['localhost'], blockedDomains: ['*'], allowPrivate: [`localhost:${port}`] } },
        },
      },
    },
    { logLines },
  );
  const input = { base: `http://localhost:${port}`, file, offset: Buffer.byteLength(prefix), length: V1.length };
  await g.gw.secrets.set('svc', V1);
  runs.push((await g.call('POST', '/v1/runs?wait=1', { profile: 'crosser', input })).json);
  // Rotation: V2 is current, V1 in its grace period — and the host still shows V1.
  await g.gw.secrets.set('svc', V2);
  runs.push((await g.call('POST', '/v1/runs?wait=1', { profile: 'crosser', input })).json);
  for (const r of runs) assert.equal(r.state, 'succeeded', JSON.stringify(r).slice(0, 1000));
});

after(async () => {
  await g?.close();
  server?.close();
});

test('what http.fetch returns — body, headers (set-cookie too), finalUrl, redirects — holds no value, before or after a rotation', () => {
  const [one, two] = runs.map((r) => r.output);
  assert.equal(one.echo.result.body, '{"error":"key [REDACTED:svc] rejected; no previous key"}');
  assert.equal(two.echo.result.body, '{"error":"key [REDACTED:svc] rejected; [REDACTED:svc] was revoked"}', 'the value in grace is still redacted');
  assert.equal(two.echo.result.headers['x-previous-key'], '[REDACTED:svc]');
  assert.deepEqual(two.echo.result.headers['set-cookie'], ['k=[REDACTED:svc]', 'old=[REDACTED:svc]']);
  assert.match(two.redirect.result.finalUrl, /\/landing\?k=\[REDACTED:svc\]$/);
  assert.deepEqual(two.redirect.result.redirects.map((u: string) => u.replace(/^.*\//, '')), ['landing?k=[REDACTED:svc]']);
  assert.equal(two.redirect.result.body, 'landed with [REDACTED:svc]');
  for (const o of [one, two]) assertClean('http.fetch results', JSON.stringify([o.echo, o.redirect]));
});

test('error messages: a server-sent location is named whole (so it is redacted whole), never cut where the agent chose', () => {
  for (const o of runs.map((r) => r.output)) {
    for (const b of o.bad) {
      assert.equal(b.ok, false);
      assert.match(b.error.message, /invalid redirect location "http:\/\/\[x+\[REDACTED:svc\]"/);
    }
    assertClean('error messages', JSON.stringify(o.bad));
  }
});

test('fs.read of a file that holds a value: maxBytes at every offset around it shows no part of it', () => {
  for (const o of runs.map((r) => r.output)) {
    assert.match(o.file.result.content, /SVC_KEY=\[REDACTED:svc\]\n# end/);
    for (const c of o.cuts) {
      assert.equal(c.ok, true);
      assert.ok(o.file.result.content.startsWith(c.result.content), c.result.content);
      assert.equal(c.result.truncated, c.result.content.length < o.file.result.content.length);
    }
    assertClean('fs.read', JSON.stringify(o.cuts));
  }
});

test('logs (the agent\'s and the gateway\'s, egress entries with redirect URLs), the audit log, the run records and the state dir hold no value', async () => {
  const text = logLines.map((l) => JSON.stringify(l)).join('\n');
  assert.match(text, /everything I saw/);
  assert.match(text, /\[REDACTED:svc\]/);
  assert.ok(logLines.some((l: any) => l.egress && /landing\?k=\[REDACTED:svc\]/.test(l.egress.url)), 'egress entries name the redirect target, redacted');
  assertClean('the gateway log', text);
  const events = (await g.call('GET', '/v1/audit/events?limit=1000')).json.events;
  assert.ok(events.some((e: any) => e.type === 'secret.exposure'));
  assert.ok(events.some((e: any) => e.type === 'tool.result' && /REDACTED:svc/.test(JSON.stringify(e.payload))), 'the outcome of a failed call names the error, redacted');
  assertClean('the audit log', JSON.stringify(events));
  assertClean('GET /v1/runs', (await g.call('GET', '/v1/runs')).text);
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  for (const f of walk(join(g.dir, 'state'))) assertClean(f, readFileSync(f).toString('latin1'));
});
