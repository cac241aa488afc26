import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectBubblewrap } from '../../src/sandbox/index.js';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';

const bwrapOk = detectBubblewrap().available;

describe('mediated tools through a thread-bound run', () => {
  const root = tempDir('cg-tools-');
  const ws = join(root, 'workspace');
  const mem = join(root, 'memory');
  const blocked = join(ws, 'private');
  const outside = join(root, 'outside');
  let g: TestGateway;
  let server: Server;
  let hits = 0;

  before(async () => {
    for (const d of [ws, mem, blocked, outside]) mkdirSync(d, { recursive: true });
    writeFileSync(join(ws, 'hello.txt'), 'hello from the workspace');
    writeFileSync(join(blocked, 'key.pem'), 'PRIVATE');
    writeFileSync(join(outside, 'canary.txt'), 'CANARY-0xdeadbeef');
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/redirect-out') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        return res.end();
      }
      res.setHeader('content-type', 'text/plain');
      res.end(`you asked for ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const agent = writeAgent(root, 'tools-agent.js', `export default async (input, ctx) => {
      const out = {};
      for (const [k, [tool, args]] of Object.entries(input.calls)) out[k] = await ctx.tools.call(tool, args);
      return out;
    }`);
    const all = ['fs.read', 'fs.write', 'fs.list', 'fs.stat', 'http.fetch', 'exec.run'];
    g = await startGateway({
      sandbox: {
        mode: 'strict',
        fileAccess: { allowedPaths: [ws, mem], blockedPaths: [blocked] },
        networkAccess: { allowedDomains: ['localhost'], blockedDomains: ['*'], allowPrivate: ['localhost', '127.0.0.1'] },
      },
      agents: {
        tools: { entry: agent, tools: { allow: all } },
        narrow: { entry: agent, tools: { allow: [{ tool: 'fs.read', paths: [`${ws}/*.txt`] }, { tool: 'http.fetch', hosts: ['localhost'] }] } },
        readonly: { entry: agent, tools: { allow: ['fs.*'], deny: ['fs.write'] } },
      },
    });
    (g as unknown as { port: number }).port = port;
  });
  after(async () => {
    await g?.close();
    server?.close();
  });

  const calls = async (profile: string, c: Record<string, [string, unknown]>) => {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile, input: { calls: c } });
    assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
    return r.json.output as Record<string, { ok: boolean; result?: any; error?: { code: string; message: string } }>;
  };

  test('fs tools work inside the allowed paths and are refused outside, blocked wins', async () => {
    const o = await calls('tools', {
      read: ['fs.read', { path: 'hello.txt' }],
      write: ['fs.write', { path: `${mem}/note.txt`, content: 'remember' }],
      list: ['fs.list', { path: ws }],
      stat: ['fs.stat', { path: `${ws}/hello.txt` }],
      blocked: ['fs.read', { path: `${blocked}/key.pem` }],
      traversal: ['fs.read', { path: `../outside/canary.txt` }],
      etc: ['fs.read', { path: '/etc/passwd' }],
      encoded: ['fs.read', { path: '..%2Foutside%2Fcanary.txt' }],
      badArgs: ['fs.read', { file: 'x' }],
    });
    assert.equal(o.read!.ok, true);
    assert.equal(o.read!.result.content, 'hello from the workspace');
    assert.equal(o.write!.ok, true);
    assert.equal(readFileSync(join(mem, 'note.txt'), 'utf8'), 'remember');
    assert.ok(o.list!.result.entries.some((e: { name: string }) => e.name === 'hello.txt'));
    assert.ok(!o.list!.result.entries.some((e: { name: string }) => e.name === 'private'), 'blocked children are not listed');
    assert.equal(o.stat!.result.type, 'file');
    for (const k of ['blocked', 'traversal', 'etc', 'encoded']) {
      assert.equal(o[k]!.ok, false, k);
      assert.ok(['path_blocked', 'not_found'].includes(o[k]!.error!.code), `${k}: ${o[k]!.error!.code}`);
    }
    assert.equal(o.badArgs!.error!.code, 'bad_request');
    assert.ok(!JSON.stringify(o).includes('CANARY'), 'the canary never comes back');
  });

  test('argument-aware config rules: paths and hosts', async () => {
    const port = (g as unknown as { port: number }).port;
    const o = await calls('narrow', {
      txt: ['fs.read', { path: `${ws}/hello.txt` }],
      other: ['fs.read', { path: `${mem}/note.txt` }],
      host: ['http.fetch', { url: `http://localhost:${port}/a` }],
      write: ['fs.write', { path: `${ws}/x.txt`, content: 'x' }],
    });
    assert.equal(o.txt!.ok, true);
    assert.equal(o.other!.error!.code, 'denied');
    assert.equal(o.host!.ok, true);
    assert.equal(o.host!.result.body, '/a'.replace(/^/, 'you asked for '));
    assert.equal(o.write!.error!.code, 'denied');
    const ro = await calls('readonly', { w: ['fs.write', { path: `${ws}/y.txt`, content: 'y' }], r: ['fs.read', { path: 'hello.txt' }] });
    assert.equal(ro.w!.error!.code, 'denied');
    assert.equal(ro.r!.ok, true);
  });

  test('http.fetch: allow list, SSRF, redirects re-checked, secrets refused without a broker', async () => {
    const port = (g as unknown as { port: number }).port;
    const before = hits;
    const o = await calls('tools', {
      ok: ['http.fetch', { url: `http://localhost:${port}/hi` }],
      other: ['http.fetch', { url: 'http://example.com/' }],
      metadata: ['http.fetch', { url: 'http://169.254.169.254/latest/meta-data/' }],
      ip: ['http.fetch', { url: `http://127.0.0.2:${port}/` }],
      scheme: ['http.fetch', { url: 'file:///etc/passwd' }],
      redirect: ['http.fetch', { url: `http://localhost:${port}/redirect-out` }],
      secret: ['http.fetch', { url: `http://localhost:${port}/s`, auth: { secret: 'openai' } }],
    });
    assert.equal(o.ok!.ok, true);
    assert.equal(o.ok!.result.status, 200);
    for (const k of ['other', 'metadata', 'ip', 'redirect']) assert.equal(o[k]!.error?.code, 'host_blocked', `${k}: ${JSON.stringify(o[k])}`);
    assert.ok(['bad_request', 'host_blocked'].includes(o.scheme!.error!.code));
    assert.equal(o.secret!.error!.code, 'secret_unavailable');
    assert.equal(hits - before, 2, 'only the allowed fetch and the first redirect hop reached the server');
  });

  test('exec.run runs sandboxed in the workspace; escapes are contained', { skip: !bwrapOk && 'bubblewrap not available' }, async () => {
    const o = await calls('tools', {
      echo: ['exec.run', { argv: ['/bin/sh', '-c', 'echo hi > made.txt && cat made.txt && pwd'] }],
      shadow: ['exec.run', { argv: ['/bin/cat', '/etc/shadow'] }],
      blocked: ['exec.run', { argv: ['/bin/cat', `${blocked}/key.pem`] }],
      outside: ['exec.run', { argv: ['/bin/sh', '-c', `echo pwned > ${outside}/x.txt`] }],
      net: ['exec.run', { argv: ['/bin/sh', '-c', `exec 3<>/dev/tcp/127.0.0.1/${(g as unknown as { port: number }).port} && echo CONNECTED`] }],
      env: ['exec.run', { argv: ['/usr/bin/env'] }],
    });
    assert.equal(o.echo!.ok, true, JSON.stringify(o.echo));
    assert.equal(o.echo!.result.exitCode, 0);
    assert.equal(o.echo!.result.stdout, `hi\n${ws}\n`);
    assert.equal(readFileSync(join(ws, 'made.txt'), 'utf8'), 'hi\n');
    assert.notEqual(o.shadow!.result.exitCode, 0);
    assert.notEqual(o.blocked!.result.exitCode, 0);
    assert.ok(!o.blocked!.result.stdout.includes('PRIVATE'));
    assert.equal(existsSync(join(outside, 'x.txt')), false);
    assert.ok(!o.net!.result.stdout.includes('CONNECTED'));
    assert.ok(!/CLAWGUARD|TOKEN/.test(o.env!.result.stdout), o.env!.result.stdout);
  });
});

const SEED8 = resolve('../shared/seed-configs/08-sandbox.json');
test('seed 08 sandbox config end to end: process isolation, its paths and its two domains', { skip: (!existsSync(SEED8) && 'no seed') || (!bwrapOk && 'bubblewrap not available') || (homedir() !== '/root' && 'seed paths are under /root') }, async () => {
  const seed = JSON.parse(readFileSync(SEED8, 'utf8'));
  const ws = '/root/.openclaw/workspace';
  mkdirSync(ws, { recursive: true });
  mkdirSync('/root/.openclaw/memory', { recursive: true });
  const name = `cg-seed-test-${process.pid}.txt`;
  // The seed allows all of /tmp: the gateway's state dir and the agent module must live elsewhere.
  const dir = tempDir('cg-seed8-', '/var/tmp');
  const agent = writeAgent(dir, 'a.js', `export default async (input, ctx) => {
    const o = {};
    o.write = await ctx.tools.call('fs.write', { path: '${name}', content: 'seeded' });
    o.read = await ctx.tools.call('fs.read', { path: '${ws}/${name}' });
    o.etc = await ctx.tools.call('fs.read', { path: '/etc/hostname' });
    o.ssh = await ctx.tools.call('fs.list', { path: '/root/.ssh' });
    o.tmp = await ctx.tools.call('fs.stat', { path: '/tmp' });
    o.evil = await ctx.tools.call('http.fetch', { url: 'https://evil.example.com/' });
    o.openai = await ctx.tools.call('http.fetch', { url: 'https://api.openai.com/v1/models', timeoutMs: 3000 });
    o.exec = await ctx.tools.call('exec.run', { argv: ['/bin/ls', '/etc'] });
    return o;
  }`);
  const g = await startGateway({ ...seed, agents: { seeded: { entry: agent, tools: { allow: ['fs.read', 'fs.write', 'fs.list', 'fs.stat', 'http.fetch', 'exec.run'] } } } }, { baseDir: '/var/tmp' });
  try {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'seeded' });
    assert.equal(r.json.isolation, 'process', 'isolationLevel process-level');
    assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
    const o = r.json.output;
    assert.equal(o.write.ok, true);
    assert.equal(o.read.result.content, 'seeded');
    assert.equal(o.etc.error.code, 'path_blocked');
    assert.equal(o.ssh.error.code, 'path_blocked');
    assert.equal(o.tmp.ok, true);
    assert.equal(o.evil.error.code, 'host_blocked');
    assert.notEqual(o.openai.error?.code, 'host_blocked', 'api.openai.com is allowed (it fails only because this machine has no network)');
    assert.notEqual(o.exec.result.exitCode, 0, '/etc is not mounted in the exec sandbox');
  } finally {
    await g.close();
    rmSync(join(ws, name), { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
