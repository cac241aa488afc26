import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createEgressGuard, type EgressLogEntry } from '../../src/sandbox/index.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler, host = '127.0.0.1') {
  let connections = 0;
  const seen: Array<{ url: string; headers: http.IncomingHttpHeaders; method: string; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, method: req.method ?? '', body });
      handler(req, res);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    seen,
    connections: () => connections,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A raw listener that only counts connection attempts. */
async function counter(host: string) {
  let n = 0;
  const s = net.createServer((c) => {
    n++;
    c.destroy();
  });
  await new Promise<void>((r) => s.listen(0, host, r));
  return { port: (s.address() as AddressInfo).port, count: () => n, close: () => new Promise<void>((r) => s.close(() => r())) };
}

const resolverOf = (map: Record<string, string[]>, calls: string[] = []) => async (h: string) => {
  calls.push(h);
  const a = map[h];
  if (!a) throw Object.assign(new Error(`ENOTFOUND ${h}`), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

test('connects to the pinned address from a single lookup; undici never resolves the name itself', async () => {
  const s = await serve((req, res) => res.end(`hello ${req.headers.host}`));
  const calls: string[] = [];
  const answers = [['127.0.0.1'], ['169.254.169.254']];
  const logs: EgressLogEntry[] = [];
  const g = createEgressGuard({
    allowedDomains: ['pin.test'],
    blockedDomains: ['*'],
    allowPrivate: ['pin.test'],
    lookup: async (h) => {
      calls.push(h);
      return (answers.shift() ?? ['10.0.0.1']).map((address) => ({ address, family: 4 }));
    },
    onLog: (e) => logs.push(e),
  });
  try {
    // ".test" never resolves in real DNS: success proves the connection used our pinned address.
    const r = await g.fetch(`http://pin.test:${s.port}/hello`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `hello pin.test:${s.port}`, 'Host header carries the name, not the address');
    assert.equal(r.address, '127.0.0.1');
    assert.deepEqual(calls, ['pin.test']);
    // The second answer is the metadata address: refused before any connection, pool or not.
    const before = s.connections();
    await assert.rejects(g.fetch(`http://pin.test:${s.port}/again`), (e: Error & { code: string }) => e.code === 'host_blocked' && /169\.254\.169\.254 \(metadata\)/.test(e.message));
    assert.equal(s.seen.length, 1);
    assert.equal(s.connections(), before);
    const allow = logs.find((l) => l.decision === 'allow' && l.status === 200)!;
    assert.equal(allow.host, 'pin.test');
    assert.equal(allow.address, '127.0.0.1');
    assert.equal(allow.bytes, r.body.length);
    const deny = logs.find((l) => l.decision === 'deny')!;
    assert.equal(deny.reason, 'metadata');
    assert.equal(deny.host, 'pin.test');
  } finally {
    await g.close();
    await s.close();
  }
});

test('loopback and private destinations need an explicit allowPrivate; a mixed DNS answer is refused whole', async () => {
  const c4 = await counter('127.0.0.1');
  const c6 = await counter('::1');
  const names = { 'api.example.com': ['127.0.0.1'], 'mixed.example.com': ['93.184.216.34', '127.0.0.1'], 'six.example.com': ['::1'], 'mapped.example.com': ['::ffff:127.0.0.1'] };
  const g = createEgressGuard({ allowedDomains: ['*.example.com'], blockedDomains: ['*'], lookup: resolverOf(names) });
  try {
    for (const url of [
      `http://api.example.com:${c4.port}/`,
      `http://mixed.example.com:${c4.port}/`,
      `http://six.example.com:${c6.port}/`,
      `http://mapped.example.com:${c4.port}/`,
    ]) {
      await assert.rejects(g.fetch(url), { code: 'host_blocked' }, url);
    }
    // Explicitly allowed: by CIDR for literals, by name for one host only.
    const g2 = createEgressGuard({ allowedDomains: ['*.example.com'], blockedDomains: ['*'], allowPrivate: ['127.0.0.0/8', '::1', '169.254.0.0/16', '0.0.0.0/8'], lookup: resolverOf(names) });
    assert.equal((await g2.check(`http://127.0.0.1:${c4.port}/`)).pinned.address, '127.0.0.1');
    assert.equal((await g2.check(`http://[::1]:${c6.port}/`)).pinned.address, '::1');
    assert.equal((await g2.check(`http://api.example.com:${c4.port}/`)).pinned.address, '127.0.0.1');
    await assert.rejects(g2.check(`http://169.254.169.254/`), /metadata/, 'metadata is never openable');
    await assert.rejects(g2.check(`http://0.0.0.0:${c4.port}/`), /unspecified/);
    await g2.close();
    const g3 = createEgressGuard({ allowedDomains: ['*.example.com'], blockedDomains: ['*', '127.0.0.1'], allowPrivate: ['127.0.0.0/8'] });
    await assert.rejects(g3.check('http://127.0.0.1/'), /blockedDomains/, 'a blocked entry beats allowPrivate');
    await g3.close();
    assert.equal(c4.count() + c6.count(), 0, 'no connection attempt was made');
  } finally {
    await g.close();
    await c4.close();
    await c6.close();
  }
});

test('malformed input and unsupported schemes are refused with messages that name the problem', async () => {
  const g = createEgressGuard({ allowedDomains: ['example.com'], blockedDomains: ['*'], lookup: resolverOf({}) });
  try {
    await assert.rejects(g.check('not a url'), { code: 'bad_request' });
    await assert.rejects(g.check(''), { code: 'bad_request' });
    await assert.rejects(g.check('ftp://example.com/'), (e: Error & { code: string }) => e.code === 'host_blocked' && /scheme "ftp"/.test(e.message));
    await assert.rejects(g.check('http://user:pw@example.com/'), /embeds credentials/);
    await assert.rejects(g.check('http://example.com/'), (e: Error & { code: string }) => e.code === 'not_found' && /example\.com/.test(e.message));
    await assert.rejects(g.check('http://evil.com/'), (e: Error) => /host "evil\.com".*not in allowedDomains/.test(e.message));
    await assert.rejects(g.fetch('http://example.com/', { method: 'TRACE' }), /method "TRACE"/);
    await assert.rejects(g.fetch('http://example.com/', { headers: { 'x-a': 'a\r\nHost: evil' } }), /invalid value/);
  } finally {
    await g.close();
  }
});

test('redirects: followed by the guard, every hop re-checked, bounded; credentials dropped across origins', async () => {
  const c4 = await counter('127.0.0.1');
  const target = await serve((_req, res) => res.end('landed'));
  const origin = await serve((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/same') return res.writeHead(302, { location: '/final' }).end();
    if (u.pathname === '/final') return res.end('same-origin');
    if (u.pathname === '/cross') return res.writeHead(307, { location: `http://b.test:${target.port}/t` }).end();
    if (u.pathname === '/post') return res.writeHead(303, { location: `http://b.test:${target.port}/after` }).end();
    if (u.pathname === '/evil') return res.writeHead(302, { location: `http://127.0.0.1:${c4.port}/` }).end();
    if (u.pathname === '/meta') return res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    if (u.pathname === '/file') return res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    if (u.pathname === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    res.writeHead(404).end();
  });
  const hops: Array<{ url: string; cross: boolean; had: string[] }> = [];
  const g = createEgressGuard({
    allowedDomains: ['a.test', 'b.test'],
    blockedDomains: ['*'],
    allowPrivate: ['a.test', 'b.test'],
    lookup: resolverOf({ 'a.test': ['127.0.0.1'], 'b.test': ['127.0.0.1'] }),
    maxRedirects: 3,
  });
  const secretHeaders = { authorization: 'Bearer s3cret', cookie: 'sid=1', 'x-api-key': 'k', accept: 'text/plain' };
  try {
    const same = await g.fetch(`http://a.test:${origin.port}/same`, { headers: secretHeaders });
    assert.equal(same.body.toString(), 'same-origin');
    assert.equal(origin.seen.at(-1)!.headers.authorization, 'Bearer s3cret', 'same-origin hop keeps credentials');

    const cross = await g.fetch(`http://a.test:${origin.port}/cross`, {
      headers: secretHeaders,
      beforeHop: (url, info) => {
        hops.push({ url, cross: info.crossOrigin, had: Object.keys(info.headers) });
        return new URL(url).hostname === 'b.test' ? { 'x-injected': 'for-b-only' } : undefined;
      },
    });
    assert.equal(cross.body.toString(), 'landed');
    assert.equal(cross.finalUrl, `http://b.test:${target.port}/t`);
    assert.deepEqual(cross.redirects, [`http://b.test:${target.port}/t`]);
    const got = target.seen.at(-1)!.headers;
    assert.equal(got.authorization, undefined);
    assert.equal(got.cookie, undefined);
    assert.equal(got['x-api-key'], undefined);
    assert.equal(got.accept, 'text/plain', 'non-credential headers survive');
    assert.equal(got['x-injected'], 'for-b-only', 'beforeHop re-decides injection per hop');
    assert.equal(origin.seen.at(-1)!.headers['x-injected'], undefined);
    assert.deepEqual(hops.map((h) => h.cross), [false, true]);
    assert.ok(!hops[1]!.had.includes('authorization'));

    const post = await g.fetch(`http://a.test:${origin.port}/post`, { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    assert.equal(post.status, 200);
    assert.equal(target.seen.at(-1)!.method, 'GET', '303 turns POST into GET');
    assert.equal(target.seen.at(-1)!.body, '');

    await assert.rejects(g.fetch(`http://a.test:${origin.port}/evil`), { code: 'host_blocked' });
    await assert.rejects(g.fetch(`http://a.test:${origin.port}/meta`), /metadata|not in allowedDomains/);
    await assert.rejects(g.fetch(`http://a.test:${origin.port}/file`), /scheme "file"/);
    await assert.rejects(g.fetch(`http://a.test:${origin.port}/loop`), /too many redirects/);
    assert.equal(c4.count(), 0, 'a redirect to a blocked address never connects');
  } finally {
    await g.close();
    await origin.close();
    await target.close();
    await c4.close();
  }
});

test('response size and time caps', async () => {
  const s = await serve((req, res) => {
    if (req.url === '/big') return res.end(Buffer.alloc(1_000_000, 97));
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 5000).unref();
    res.end('ok');
  });
  const logs: EgressLogEntry[] = [];
  const g = createEgressGuard({ allowedDomains: ['127.0.0.1'], blockedDomains: ['*'], allowPrivate: ['127.0.0.1'], maxResponseBytes: 1000, timeoutMs: 300, onLog: (e) => logs.push(e) });
  try {
    const big = await g.fetch(`http://127.0.0.1:${s.port}/big`);
    assert.equal(big.body.length, 1000);
    assert.equal(big.truncated, true);
    assert.equal(logs.at(-1)!.truncated, true);
    assert.equal(logs.at(-1)!.bytes, 1000);
    const small = await g.fetch(`http://127.0.0.1:${s.port}/x`, { maxResponseBytes: 10 });
    assert.equal(small.truncated, false);
    const t0 = Date.now();
    await assert.rejects(g.fetch(`http://127.0.0.1:${s.port}/slow`), (e: Error & { code: string }) => e.code === 'timeout' && /300 ms/.test(e.message));
    assert.ok(Date.now() - t0 < 2000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('caller gave up')), 50);
    await assert.rejects(g.fetch(`http://127.0.0.1:${s.port}/slow`, { signal: ac.signal, timeoutMs: 5000 }));
  } finally {
    await g.close();
    await s.close();
  }
});

test('https: SNI and certificate name are the host, while the socket goes to the pinned address', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cg-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pin.test', '-addext', 'subjectAltName=DNS:pin.test', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    return t.skip('openssl not available to make a test certificate');
  }
  const cert = fs.readFileSync(path.join(dir, 'c.pem'));
  let sni: string | undefined;
  const server = https.createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert }, (req, res) => res.end(`tls ${req.headers.host}`));
  server.on('secureConnection', (s) => (sni = (s as unknown as { servername?: string }).servername));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const g = createEgressGuard({ allowedDomains: ['pin.test', 'other.test'], blockedDomains: ['*'], allowPrivate: ['127.0.0.1'], lookup: resolverOf({ 'pin.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] }), tls: { ca: cert } });
  try {
    const r = await g.fetch(`https://pin.test:${port}/`);
    assert.equal(r.body.toString(), `tls pin.test:${port}`);
    assert.equal(sni, 'pin.test');
    await assert.rejects(g.fetch(`https://other.test:${port}/`), (e: Error & { code: string }) => e.code === 'tool_failed' && /other\.test/.test(e.message), 'certificate is checked against the name');
  } finally {
    await g.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the caller does not choose the encoding: accept-encoding and accept-charset are the guard\'s, and whatever a server applies anyway is undone', async () => {
  const zlib = await import('node:zlib');
  const text = 'the body as the server meant it: ' + 'abc'.repeat(50);
  const gz = (b: Buffer | string) => zlib.gzipSync(b);
  // zstd where this Node has it (22.15+, 24); elsewhere it must be refused, never passed through.
  const zstd = (zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
  const s = await serve((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const c = u.searchParams.get('c');
    const chunked = (buf: Buffer, headers: Record<string, string>) => {
      res.writeHead(200, headers);
      // Split into small writes: chunk boundaries fall inside the compressed stream.
      for (let i = 0; i < buf.length; i += 7) res.write(buf.subarray(i, i + 7));
      res.end();
    };
    if (c === 'honour') {
      // Compresses only when asked: the guard never asks.
      const ae = String(req.headers['accept-encoding'] ?? '');
      return ae.includes('gzip') ? chunked(gz(text), { 'content-encoding': 'gzip' }) : res.end(text);
    }
    if (c === 'gzip') return chunked(gz(text), { 'content-encoding': 'gzip' });
    if (c === 'x-gzip') return chunked(gz(text), { 'content-encoding': 'x-gzip' });
    if (c === 'zlib') return chunked(zlib.deflateSync(text), { 'content-encoding': 'deflate' });
    if (c === 'raw-deflate') return chunked(zlib.deflateRawSync(text), { 'content-encoding': 'deflate' });
    if (c === 'br') return chunked(zlib.brotliCompressSync(text), { 'content-encoding': 'br' });
    if (c === 'nested') return chunked(zlib.brotliCompressSync(gz(text)), { 'content-encoding': 'gzip, br' });
    if (c === 'two-headers') return chunked(zlib.brotliCompressSync(gz(text)), { 'content-encoding': 'gzip' + ', identity, ' + 'br' });
    if (c === 'te') return chunked(gz(text), { 'transfer-encoding': 'gzip, chunked' });
    if (c === 'lie-plain') return chunked(Buffer.from(text), { 'content-encoding': 'gzip' });
    if (c === 'lie-br') return chunked(gz(text), { 'content-encoding': 'br' });
    if (c === 'unknown') return chunked(Buffer.from(text), { 'content-encoding': 'compress' });
    if (c === 'empty') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end();
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-encoding': 'br', 'content-length': '1234' }).end();
    if (c === 'deep') return chunked(gz(gz(gz(gz(gz(text))))), { 'content-encoding': 'gzip, gzip, gzip, gzip, gzip' });
    if (c === 'zstd') return chunked(zstd ? zstd(Buffer.from(text)) : Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), { 'content-encoding': 'zstd' });
    res.end(text);
  });
  const g = createEgressGuard({ allowedDomains: ['127.0.0.1'], blockedDomains: ['*'], allowPrivate: ['127.0.0.1'] });
  const url = (c: string) => `http://127.0.0.1:${s.port}/?c=${c}`;
  try {
    const honour = await g.fetch(url('honour'), { headers: { 'accept-encoding': 'gzip, br', 'Accept-Charset': 'utf-16', accept: 'text/plain' } });
    assert.equal(honour.body.toString(), text);
    assert.deepEqual(honour.decoded, []);
    const asked = s.seen.at(-1)!.headers;
    assert.equal(asked['accept-encoding'], 'identity', 'the caller\'s accept-encoding is replaced');
    assert.equal(asked['accept-charset'], undefined, 'a charset the caller picks is dropped');
    assert.equal(asked.accept, 'text/plain');
    for (const [c, codings] of [['gzip', ['gzip']], ['x-gzip', ['gzip']], ['zlib', ['deflate']], ['raw-deflate', ['deflate']], ['br', ['br']], ['nested', ['gzip', 'br']], ['two-headers', ['gzip', 'br']], ['te', ['gzip']]] as const) {
      const r = await g.fetch(url(c));
      assert.equal(r.body.toString(), text, c);
      assert.deepEqual(r.decoded, codings, c);
      assert.equal(r.headers['content-encoding'], undefined, `${c}: the header describing the encoded body is gone`);
      assert.equal(r.headers['content-length'], undefined, c);
      assert.equal(r.truncated, false);
    }
    await assert.rejects(g.fetch(url('lie-plain')), (e: Error & { code: string }) => e.code === 'tool_failed' && /does not decode as gzip/.test(e.message) && !e.message.includes('abc'));
    await assert.rejects(g.fetch(url('lie-br')), (e: Error & { code: string }) => e.code === 'tool_failed' && /does not decode as br/.test(e.message));
    await assert.rejects(g.fetch(url('unknown')), (e: Error & { code: string }) => e.code === 'tool_failed' && /encoding "compress", which this gateway cannot decode/.test(e.message));
    await assert.rejects(g.fetch(url('deep')), /5 nested encodings/);
    assert.deepEqual([(await g.fetch(url('empty'))).body.length, (await g.fetch(url('x'), { method: 'HEAD' })).status], [0, 200], 'no body, nothing to decode');
    if (zstd) assert.equal((await g.fetch(url('zstd'))).body.toString(), text);
    else await assert.rejects(g.fetch(url('zstd')), (e: Error & { code: string }) => e.code === 'tool_failed' && /encoding "zstd", which this gateway cannot decode \(it decodes gzip, deflate, br\)/.test(e.message));
    const small = await g.fetch(url('gzip'), { maxResponseBytes: 10 });
    assert.deepEqual([small.body.toString(), small.truncated], [text.slice(0, 10), true], 'the cap is on decoded bytes');
  } finally {
    await g.close();
    await s.close();
  }
});

test('decompression bombs stop at the cap; encoded input that decodes to nothing is refused', async () => {
  const zlib = await import('node:zlib');
  const bomb = zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }); // 256 MiB of zeros in ~250 KiB
  const nested = zlib.gzipSync(zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }), { level: 9 });
  const empty = zlib.gzipSync(Buffer.alloc(0));
  const nothing = Buffer.concat(Array.from({ length: 150_000 }, () => empty)); // ~3 MB of members, each decoding to 0 bytes
  const s = await serve((req, res) => {
    const body = req.url === '/bomb' ? bomb : req.url === '/nested' ? nested : nothing;
    res.writeHead(200, { 'content-encoding': req.url === '/nested' ? 'gzip, gzip' : 'gzip' });
    res.end(body);
  });
  const g = createEgressGuard({ allowedDomains: ['127.0.0.1'], blockedDomains: ['*'], allowPrivate: ['127.0.0.1'], maxResponseBytes: 1024 * 1024 });
  try {
    const before = process.memoryUsage().rss;
    for (const p of ['/bomb', '/nested']) {
      const r = await g.fetch(`http://127.0.0.1:${s.port}${p}`);
      assert.equal(r.body.length, 1024 * 1024, p);
      assert.equal(r.truncated, true, p);
      assert.ok(r.body.every((x) => x === 0));
    }
    assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024, 'decoding stopped at the cap instead of inflating 256 MiB');
    await assert.rejects(g.fetch(`http://127.0.0.1:${s.port}/nothing`), (e: Error & { code: string }) => e.code === 'tool_failed' && /encoded bytes that did not decode/.test(e.message));
  } finally {
    await g.close();
    await s.close();
  }
});

test('a hop carrying an injected credential asks for the whole response: Range and If-Range are dropped there, kept elsewhere', async () => {
  const s = await serve((_req, res) => res.end('ok'));
  const g = createEgressGuard({ allowedDomains: ['127.0.0.1'], blockedDomains: ['*'], allowPrivate: ['127.0.0.1'] });
  try {
    await g.fetch(`http://127.0.0.1:${s.port}/a`, { headers: { range: 'bytes=0-10', 'if-range': '"e"' } });
    assert.equal(s.seen.at(-1)!.headers.range, 'bytes=0-10');
    await g.fetch(`http://127.0.0.1:${s.port}/b`, { headers: { range: 'bytes=0-10', 'if-range': '"e"' }, beforeHop: () => ({ authorization: 'Bearer k' }) });
    assert.equal(s.seen.at(-1)!.headers.range, undefined);
    assert.equal(s.seen.at(-1)!.headers['if-range'], undefined);
    assert.equal(s.seen.at(-1)!.headers.authorization, 'Bearer k');
    // An injected header cannot set what the guard owns either.
    await g.fetch(`http://127.0.0.1:${s.port}/c`, { beforeHop: () => ({ 'accept-encoding': 'gzip', range: 'bytes=1-2' }) });
    assert.equal(s.seen.at(-1)!.headers['accept-encoding'], 'identity');
    assert.equal(s.seen.at(-1)!.headers.range, undefined);
  } finally {
    await g.close();
    await s.close();
  }
});

test('allowPrivate and allowedDomains entries can name ports (and schemes); other ports stay closed without a connection', async () => {
  const s = await serve((_req, res) => res.end('model'));
  const c4 = await counter('127.0.0.1');
  const names = { 'model.internal': ['127.0.0.1'], 'other.internal': ['127.0.0.1'] };
  try {
    const byAddress = createEgressGuard({ allowedDomains: ['*.internal'], blockedDomains: ['*'], allowPrivate: [`127.0.0.1:${s.port}`], lookup: resolverOf(names) });
    assert.equal((await byAddress.fetch(`http://127.0.0.1:${s.port}/`)).body.toString(), 'model', 'the literal, on its port');
    assert.equal((await byAddress.fetch(`http://model.internal:${s.port}/`)).body.toString(), 'model', 'a name resolving to it, on its port');
    await assert.rejects(byAddress.fetch(`http://127.0.0.1:${c4.port}/`), { code: 'host_blocked' });
    await assert.rejects(byAddress.fetch(`http://model.internal:${c4.port}/`), (e: Error & { code: string }) => e.code === 'host_blocked' && /loopback addresses are reachable only when listed in allowPrivate/.test(e.message));
    await byAddress.close();
    const byName = createEgressGuard({ allowedDomains: ['*.internal'], blockedDomains: ['*'], allowPrivate: [`http://model.internal:${s.port}`], lookup: resolverOf(names) });
    assert.equal((await byName.fetch(`http://model.internal:${s.port}/`)).status, 200);
    await assert.rejects(byName.fetch(`http://other.internal:${s.port}/`), { code: 'host_blocked' });
    await assert.rejects(byName.fetch(`http://model.internal:${c4.port}/`), { code: 'host_blocked' });
    await byName.close();
    const byCidr = createEgressGuard({ allowedDomains: [`model.internal:${s.port}`], blockedDomains: ['*'], allowPrivate: [`127.0.0.0/8:${s.port}`], lookup: resolverOf(names) });
    assert.equal((await byCidr.fetch(`http://model.internal:${s.port}/`)).status, 200);
    await assert.rejects(byCidr.fetch(`http://model.internal:${c4.port}/`), (e: Error) => /not in allowedDomains/.test(e.message), 'a domain entry with a port is that port only');
    await byCidr.close();
    assert.equal(c4.count(), 0, 'no connection to a port nobody allowed');
  } finally {
    await s.close();
    await c4.close();
  }
});
