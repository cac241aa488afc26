/**
 * allowedHosts through a real gateway (issue 14): a binding pinned to a port is usable on that port
 * and refused on another, an entry without a scheme is https (so plain http to the same port is
 * refused), and an empty list is nowhere. Real gateway, real run, real HTTP on loopback.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';

const VALUE = 'tok-host-binding-7f6e5d4c3b2a1900';
let g: TestGateway;
const servers: Server[] = [];
const ports: number[] = [];
const hits: Array<{ port: number; auth: string | undefined }> = [];
let runJson: any;

async function listen(): Promise<number> {
  const s = createServer((req, res) => {
    hits.push({ port: (req.socket.localPort ?? 0), auth: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as { port: number }).port;
}

before(async () => {
  ports.push(await listen(), await listen());
  const [a, b] = ports as [number, number];
  process.env.CG_HB_VALUE = VALUE;
  const agent = writeAgent(tempDir('cg-hb-agent-'), 'binder.js', `export default async (input, ctx) => {
    const o = {};
    const f = (url, secret) => ctx.tools.call('http.fetch', { url, auth: { secret, scheme: 'bearer' } });
    o.pinned = await f('http://127.0.0.1:${a}/x', 'pinned');
    o.pinnedOtherPort = await f('http://127.0.0.1:${b}/x', 'pinned');
    o.httpsDefault = await f('http://127.0.0.1:${a}/x', 'httpsonly');
    o.empty = await f('http://127.0.0.1:${a}/x', 'nowhere');
    return o;
  }`);
  g = await startGateway({
    secrets: {
      // An origin with a port: plain http on exactly that port.
      pinned: { source: 'env', env: 'CG_HB_VALUE', agents: ['binder'], allowedHosts: [`http://127.0.0.1:${a}`] },
      // host:port without a scheme is https on that port: plain http there is not it.
      httpsonly: { source: 'env', env: 'CG_HB_VALUE', agents: ['binder'], allowedHosts: [`127.0.0.1:${a}`] },
      nowhere: { source: 'env', env: 'CG_HB_VALUE', agents: ['binder'], allowedHosts: [] },
    },
    agents: {
      binder: {
        entry: agent,
        tools: { allow: ['http.fetch'] },
        sandbox: { mode: 'strict', networkAccess: { allowedDomains: ['127.0.0.1'], blockedDomains: ['*'], allowPrivate: ['127.0.0.1'] } },
      },
    },
  });
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'binder', input: {} });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  runJson = r.json;
});

after(async () => {
  await g?.close();
  for (const s of servers) s.close();
});

test('a port-pinned binding is usable on its port (broker and config-tier Cedar both allow) and refused on another', async () => {
  const o = runJson.output;
  assert.equal(o.pinned.ok, true, JSON.stringify(o.pinned));
  assert.equal(o.pinned.result.status, 200);
  assert.deepEqual(hits.filter((h) => h.port === ports[0]).map((h) => h.auth), [`Bearer ${VALUE}`], 'the value reached the pinned port once');
  assert.equal(o.pinnedOtherPort.error.code, 'host_blocked', JSON.stringify(o.pinnedOtherPort));
  assert.equal(hits.filter((h) => h.port === ports[1]).length, 0, 'the other port never saw a request');
  const uses = (await g.call('GET', '/v1/audit/events?type=secret.use&limit=100')).json.events as Array<{ decision: string; payload: any }>;
  const pinned = uses.filter((e) => e.payload?.secret === 'pinned').map((e) => e.decision).sort();
  assert.deepEqual(pinned, ['allow', 'deny']);
});

test('an entry without a scheme is https: plain http to the same port is refused; an empty list is refused', async () => {
  const o = runJson.output;
  assert.equal(o.httpsDefault.error.code, 'host_blocked', JSON.stringify(o.httpsDefault));
  assert.equal(o.empty.error.code, 'host_blocked', JSON.stringify(o.empty));
  assert.match(o.empty.error.message, /allowedHosts \(none\)/);
  assert.equal(hits.length, 1, 'only the pinned use reached a server');
  const h = await g.call('GET', '/healthz');
  assert.equal(h.status, 200, 'the gateway still answers');
});
