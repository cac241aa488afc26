/**
 * Property: with an allow list of example.com, nothing in the SSRF corpus ever opens a connection.
 * Listeners on 127.0.0.1 and [::1] count every connection attempt and must count none. The resolver
 * is ours and hostile: every name (example.com included) resolves to loopback, private, metadata or
 * a mixed answer. Each URL is tried as written, with its port pointed at the listeners, and as the
 * target of a redirect from an allowed origin (each hop must be re-checked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createEgressGuard, type EgressLogEntry } from '../../src/sandbox/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpusDir = path.resolve(repoRoot, '../shared/corpora/ssrf');

async function counter(host: string) {
  const hits: string[] = [];
  const s = net.createServer((c) => {
    hits.push(`${c.remoteAddress}`);
    c.destroy();
  });
  await new Promise<void>((r) => s.listen(0, host, r));
  return { port: (s.address() as AddressInfo).port, hits, close: () => new Promise<void>((r) => s.close(() => r())) };
}

function corpusUrls(): string[] {
  const out = new Set<string>();
  const json = JSON.parse(fs.readFileSync(path.join(corpusDir, 'patt_ssrf_targets.json'), 'utf8')) as { entries: Array<{ url: string }> };
  for (const e of json.entries) out.add(e.url);
  for (const line of fs.readFileSync(path.join(corpusDir, 'seclists_SSRF_hacktricks.txt'), 'utf8').split(/\r?\n/)) {
    const l = line.trim();
    if (!l) continue;
    out.add(l);
    if (!l.includes('://')) out.add(`http://${l}`); // scheme-less lines, as an agent might "fix" them
  }
  return [...out];
}

/** The same URL with its port pointed at our listener (when it parses and has an http(s) scheme). */
function retarget(u: string, port: number): string | undefined {
  try {
    const x = new URL(u);
    if (x.protocol !== 'http:' && x.protocol !== 'https:') return undefined;
    x.port = String(port);
    x.protocol = 'http:';
    return x.href;
  } catch {
    return undefined;
  }
}

const HOSTILE = [['127.0.0.1'], ['::1'], ['10.0.0.7'], ['169.254.169.254'], ['fd00:ec2::254'], ['93.184.216.34', '127.0.0.1'], ['::ffff:127.0.0.1'], ['0.0.0.0'], ['100.100.100.200']];

test('SSRF corpus: with allowedDomains [example.com] nothing ever opens a connection', async (t) => {
  if (!fs.existsSync(corpusDir)) return t.skip(`corpus not found at ${corpusDir}`);
  const c4 = await counter('127.0.0.1');
  const c6 = await counter('::1');
  // Same port on both families where possible, so "[::1]:P" and "127.0.0.1:P" both land on a counter.
  const urls = corpusUrls();
  const variants = new Set<string>();
  for (const u of urls) {
    variants.add(u);
    for (const p of [c4.port, c6.port]) {
      const r = retarget(u, p);
      if (r) variants.add(r);
    }
  }
  variants.add(`http://example.com:${c4.port}/`);
  variants.add(`http://www.example.com:${c4.port}/`);
  variants.add(`http://localhost:${c4.port}/`);
  variants.add(`http://[::1]:${c6.port}/`);

  // A redirector on an explicitly allowed origin (its own listener, not counted).
  // Raw bytes, so Location can carry what http.ServerResponse would refuse (unicode digits, spaces).
  let served = 0;
  const redirector = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const target = /^GET (\S+) /.exec(buf)?.[1] ?? '/';
      buf = buf.slice(end + 4);
      const to = new URL(target, 'http://x').searchParams.get('to') ?? '';
      served++;
      sock.write(Buffer.concat([Buffer.from('HTTP/1.1 302 Found\r\nLocation: '), Buffer.from(to, 'utf8'), Buffer.from('\r\nContent-Length: 0\r\n\r\n')]));
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  const rport = (redirector.address() as AddressInfo).port;

  const logs: EgressLogEntry[] = [];
  let round = 0;
  const lookups: string[] = [];
  const hostile = async (h: string) => {
    lookups.push(h);
    if (h === 'redirector.test') return [{ address: '127.0.0.1', family: 4 }];
    const answer = HOSTILE[round++ % HOSTILE.length]!;
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const direct = createEgressGuard({ allowedDomains: ['example.com'], blockedDomains: ['*'], lookup: hostile, timeoutMs: 2000, onLog: (e) => logs.push(e) });
  const viaRedirect = createEgressGuard({
    allowedDomains: ['example.com', 'redirector.test'],
    blockedDomains: ['*'],
    allowPrivate: ['redirector.test'], // only this name may be loopback; its redirect targets may not
    lookup: hostile,
    timeoutMs: 2000,
  });
  const outcomes: Record<string, number> = {};
  try {
    for (const v of variants) {
      for (const [g, url] of [
        [direct, v],
        [viaRedirect, `http://redirector.test:${rport}/?to=${encodeURIComponent(v)}`],
      ] as const) {
        try {
          const r = await g.fetch(url);
          assert.fail(`${v} was fetched (status ${r.status}, final ${r.finalUrl})`);
        } catch (e) {
          const code = (e as { code?: string }).code;
          assert.ok(code && ['host_blocked', 'bad_request', 'not_found', 'tool_failed'].includes(code), `${v}: unexpected ${String(e)}`);
          outcomes[code] = (outcomes[code] ?? 0) + 1;
        }
      }
    }
    assert.deepEqual(c4.hits, [], 'nothing connected to 127.0.0.1');
    assert.deepEqual(c6.hits, [], 'nothing connected to [::1]');
    // Every denial was logged with its reason; example.com itself was resolved and refused by address.
    assert.ok(logs.every((l) => l.decision === 'deny' && l.reason), 'only deny decisions were logged');
    assert.ok(lookups.includes('example.com'));
    assert.ok(served >= variants.size, 'every URL was also tried as a redirect target');
    assert.ok(outcomes['host_blocked']! > variants.size, JSON.stringify(outcomes));
    t.diagnostic(`${variants.size} URLs x 2 paths: ${JSON.stringify(outcomes)}`);
  } finally {
    await direct.close();
    await viaRedirect.close();
    await new Promise((r) => redirector.close(r));
    await c4.close();
    await c6.close();
  }
});
