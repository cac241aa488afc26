/**
 * What a real gateway records of a call is what the call does: a command line padded past the
 * bound is refused (and its tool.rejected event says why), one just under it is recorded whole,
 * a 5 MB write is recorded by its path and its content's size and SHA-256, and a redirect the
 * egress guard blocks inside an allowed http.fetch is recorded as the call's outcome.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readEvents } from '../../src/audit/index.js';
import { createAgentClient, generateEd25519, privateKeyPem, publicKeyPem, type AgentClient } from '../../src/identity/index.js';
import { startGateway, type TestGateway, tempDir, waitFor } from '../helpers/gateway.js';

const dir = tempDir('cg-audit-payload-');
const ws = join(dir, 'ws');
mkdirSync(ws);
let g: TestGateway;
let client: AgentClient;
const servers: Server[] = [];

const listen = (host: string, handler: Parameters<typeof createServer>[1]) =>
  new Promise<number>((res) => {
    const s = createServer(handler);
    servers.push(s);
    s.listen(0, host, () => res((s.address() as { port: number }).port));
  });

before(async () => {
  g = await startGateway({
    gateway: { bodyLimitBytes: 8 * 1024 * 1024 },
    sandbox: { mode: 'strict', fileAccess: { allowedPaths: [ws] }, networkAccess: { allowedDomains: ['127.0.0.1', '127.0.0.2'], allowPrivate: ['127.0.0.1'] } },
    agents: { door: { warmPool: 0, workspace: ws, tools: { allow: ['exec.run', 'fs.write', 'http.fetch'] } } },
  });
  const { privateKey, publicKey } = generateEd25519();
  assert.equal((await g.call('POST', '/v1/agents', { agentId: 'payload-bot', publicKey: publicKeyPem(publicKey), profile: 'door' })).status, 201);
  client = createAgentClient({ gatewayUrl: g.url, agentId: 'payload-bot', privateKey: privateKeyPem(privateKey) });
});
after(async () => {
  await client?.close();
  for (const s of servers) s.close();
  await g?.close();
});

const db = () => g.gw.auditLog.database!;
const lastSeq = () => (g.gw.auditLog.status() as { lastSeq: number }).lastSeq;
/** The events a call left, once its outcome (if any) is recorded. */
async function eventsOf(before: number, outcome: boolean) {
  if (outcome) await waitFor(() => readEvents(db(), { afterSeq: before }).some((e) => e.type === 'tool.result'));
  return readEvents(db(), { afterSeq: before });
}

test('a command line padded past the bound is refused before anything runs; its tool.rejected record says why', async () => {
  const before = lastSeq();
  const argv = ['sh', '-c', `${' '.repeat(2000)}echo HIDDEN > ${ws}/hidden`, 'x'.repeat(65_000)];
  const r = await client.callTool('exec.run', { argv });
  assert.equal(r.ok, false);
  const events = await eventsOf(before, false);
  assert.deepEqual(events.map((e) => e.type), ['tool.rejected']);
  assert.equal(events[0]!.decision, 'deny');
  assert.equal(events[0]!.payload!.code, 'bad_request');
  assert.match(String(events[0]!.payload!.message), /exec\.run: the arguments that decide what this call does take \d+ bytes, more than the 65536 the audit record keeps whole; the call is refused/);
  assert.throws(() => statSync(join(ws, 'hidden')), 'nothing ran');
});

test('a command line just under the bound is recorded whole, as it runs', async () => {
  const before = lastSeq();
  const prefix = ['/bin/sh', '-c', 'printf %s "$1" | wc -c', 'sh'];
  const word = 'y'.repeat(65_536 - JSON.stringify({ argv: [...prefix, ''] }).length - 8);
  const argv = [...prefix, word];
  // {"argv":[...]} as JSON is 8 bytes under 64 KiB: the whole of it is what the audit keeps
  assert.equal(JSON.stringify({ argv }).length, 65_528);
  const r = await client.callTool('exec.run', { argv });
  assert.equal(r.ok, true, JSON.stringify(r).slice(0, 500));
  assert.match(JSON.stringify(r), new RegExp(`${word.length}`), 'and it ran with the whole argument');
  const events = await eventsOf(before, true);
  const d = events.find((e) => e.type === 'tool.decision')!;
  assert.equal(d.decision, 'allow');
  assert.deepEqual(d.payload!.args, { argv }, 'every argument, whole');
  assert.ok(!JSON.stringify(d.payload).includes('"truncated"'));
  const res = events.find((e) => e.type === 'tool.result')!;
  assert.deepEqual([res.payload!.ok, res.payload!.decisionSeq], [true, d.seq]);
});

test('a 5 MB fs.write is recorded with its path whole and its content by size and SHA-256', async () => {
  const before = lastSeq();
  const content = 'z'.repeat(5 * 1024 * 1024);
  const path = join(ws, 'big.txt');
  const r = await client.callTool('fs.write', { path, content });
  assert.equal(r.ok, true, JSON.stringify(r).slice(0, 300));
  const events = await eventsOf(before, true);
  const d = events.find((e) => e.type === 'tool.decision')!;
  assert.deepEqual(d.payload!.args, { path, content: { bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') } });
  assert.equal(d.resource, path);
  assert.equal(statSync(path).size, content.length);
  const res = events.find((e) => e.type === 'tool.result')!;
  assert.deepEqual([res.payload!.ok, res.payload!.decisionSeq], [true, d.seq]);
});

test('a redirect the egress guard blocks inside an allowed http.fetch: tool.decision allow, then tool.result not ok with the guard’s code, tied to the decision', async () => {
  let reachedB = false;
  const portB = await listen('127.0.0.2', (_req, res) => {
    reachedB = true;
    res.end('secret stuff');
  });
  const portA = await listen('127.0.0.1', (_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.2:${portB}/inside` });
    res.end();
  });
  const before = lastSeq();
  const r = await client.callTool('http.fetch', { url: `http://127.0.0.1:${portA}/start` });
  assert.equal(r.ok, false);
  const events = await eventsOf(before, true);
  assert.deepEqual(events.map((e) => e.type), ['tool.decision', 'tool.result']);
  const [d, res] = events as [typeof events[0], typeof events[0]];
  assert.equal(d!.decision, 'allow');
  assert.equal(d!.action, 'http.fetch');
  assert.equal(res!.payload!.ok, false);
  assert.equal(res!.payload!.code, 'host_blocked');
  assert.equal(res!.payload!.decisionSeq, d!.seq);
  assert.match(String(res!.payload!.message), /127\.0\.0\.2/);
  assert.equal(reachedB, false, 'the blocked hop was never made');
});
