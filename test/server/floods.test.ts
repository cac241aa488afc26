/**
 * Floods against a real gateway: a burst of unauthenticated requests is one audit event with a
 * count per source, code and window (179,306 events in 20 s before), while a single rejected
 * request and an authenticated refusal are still recorded at once; sockets are capped and idle,
 * slow (slowloris) and half-sent requests are closed after the configured timeouts.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { readEvents } from '../../src/audit/index.js';
import { startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

let g: TestGateway;
before(async () => {
  g = await startGateway({
    gateway: { maxConnections: 40, headersTimeout: '1s', requestTimeout: '2s', keepAliveTimeout: '1s' },
    agents: { tools: { tools: { allow: ['system.time'] }, warmPool: 0 } },
  });
  await waitFor(() => readEvents(g.gw.auditLog.database!, { type: 'policy.reload' }).length > 0);
});
after(async () => g?.close());

const lastSeq = () => (g.gw.auditLog.status() as { lastSeq: number }).lastSeq;
const eventsAfter = (seq: number) => readEvents(g.gw.auditLog.database!, { afterSeq: seq, limit: 10_000 });
const counted = (events: ReturnType<typeof eventsAfter>) => events.reduce((n, e) => n + (e.payload?.aggregated ? Number(e.payload.count) : 1), 0);

test('a burst of unauthenticated requests is a few events with counts, not one per request; the window closes by itself', async () => {
  await g.gw.rejections.flush();
  const before = lastSeq();
  const rand = mulberry32(7);
  const pool = new Pool(g.url, { connections: 8 });
  const N = 400;
  const statuses = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      // varied on everything the client controls: token, path, signature claims
      const kind = i % 3;
      const headers: Record<string, string> = kind === 0 ? { authorization: `Bearer junk-${rand()}` } : kind === 1 ? {} : { 'signature-input': `sig1=("@method");keyid="mallory-${i}";created=1`, signature: 'sig1=:AAAA:' };
      const r = await pool.request({ method: 'GET', path: kind === 1 ? `/v1/runs?n=${i}` : `/v1/status/${i % 2 ? '' : 'x'}`.replace(/\/$/, ''), headers });
      await r.body.dump();
      return r.statusCode;
    }),
  );
  await pool.close();
  assert.ok(statuses.every((s) => s === 401 || s === 404), [...new Set(statuses)].join(','));
  const immediate = eventsAfter(before);
  assert.ok(immediate.length <= 6, `at most one event per source and code at once, got ${immediate.length}`);
  // the window closes on its own (no flush): the rest arrive as counts
  await waitFor(() => counted(eventsAfter(before)) === N, 15_000);
  const all = eventsAfter(before);
  assert.ok(all.length <= 12, `${all.length} events for ${N} requests`);
  const agg = all.filter((e) => e.payload?.aggregated);
  assert.ok(agg.length > 0);
  for (const e of agg) {
    assert.equal(e.decision, 'deny');
    assert.equal(e.payload!.source, '127.0.0.1');
    assert.ok((e.payload!.paths as string[]).length <= 5, 'samples are bounded');
  }
});

test('a single rejected request is still recorded at once, before its answer', async () => {
  await g.gw.rejections.flush();
  const before = lastSeq();
  const r = await g.call('GET', '/v1/status', undefined, { authorization: 'Bearer wrong' });
  assert.equal(r.status, 401);
  const events = eventsAfter(before);
  assert.deepEqual(events.map((e) => [e.type, e.payload?.code, e.payload?.aggregated ?? false]), [['request.rejected', 'unauthenticated', false]]);
});

test('refusals of an authenticated operator are recorded one by one (never aggregated)', async () => {
  const t = await g.call('POST', '/v1/operator-tokens', { name: 'reader', scopes: 'read' });
  const before = lastSeq();
  for (let i = 0; i < 5; i++) assert.equal((await g.call('POST', '/v1/runs', { profile: 'tools' }, { authorization: `Bearer ${t.json.token}` })).status, 403);
  const events = eventsAfter(before).filter((e) => e.type === 'request.rejected');
  assert.equal(events.length, 5);
  assert.ok(events.every((e) => e.payload?.code === 'insufficient_scope' && !e.payload?.aggregated));
});

/** Open a raw TCP connection; resolves with a handle telling whether and how it was closed. */
async function socket(data = ''): Promise<{ s: net.Socket; closed: () => boolean; got: () => string }> {
  const s = net.connect(new URL(g.url).port as unknown as number, '127.0.0.1');
  let closed = false;
  let got = '';
  s.on('data', (d) => (got += d));
  s.on('close', () => (closed = true));
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('connect', () => r()));
  if (data) s.write(data);
  return { s, closed: () => closed, got: () => got };
}

test('idle sockets: beyond maxConnections they are refused at once, the rest are closed by the header timeout, and the gateway serves again', async () => {
  const many = await Promise.all(Array.from({ length: 200 }, () => socket()));
  await waitFor(() => many.filter((c) => c.closed()).length >= 200 - 40, 5000);
  assert.equal(g.gw.status().http && (g.gw.status().http as { connections: { max: number } }).connections.max, 40);
  // the ones that got in said nothing: closed once the header timeout (1 s) passes, with a 408
  await waitFor(() => many.every((c) => c.closed()), 10_000);
  assert.ok(many.some((c) => c.got().startsWith('HTTP/1.1 408')));
  const h = await g.call('GET', '/healthz');
  assert.equal(h.status, 200);
});

test('slowloris: headers dripped one line at a time are cut off by the header timeout; a slow body by the request timeout', async () => {
  const slow = await socket('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => !slow.closed() && slow.s.write(`X-Drip-${Date.now()}: 1\r\n`), 200);
  const body = await socket('POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"pro');
  const bodyDrip = setInterval(() => !body.closed() && body.s.write(' '), 200);
  try {
    await waitFor(() => slow.closed(), 10_000);
    await waitFor(() => body.closed(), 10_000);
  } finally {
    clearInterval(drip);
    clearInterval(bodyDrip);
  }
  assert.match(slow.got(), /^HTTP\/1\.1 408/);
  assert.match(body.got(), /^HTTP\/1\.1 408/);
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const ka = await socket('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => ka.got().includes('"status"'), 5000);
  await waitFor(() => ka.closed(), 10_000);
});
