/**
 * A provider's error body reaches the agent whole (so the pipeline's redactor sees a key it echoes
 * whole) or not at all: never cut at a place the agent can steer by padding what the provider echoes.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { chat } from '../../src/tools/index.js';
import { SecretRedactor } from '../../src/secrets/index.js';
import { createEgressGuard } from '../../src/sandbox/index.js';
import { mulberry32 } from '../helpers/prng.js';

const KEY = 'sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      // A realistic 401 that echoes the presented key after content the caller chose.
      const pad = (JSON.parse(body) as { messages: Array<{ content: string }> }).messages[0]!.content;
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`${pad}invalid api key ${String(req.headers.authorization).replace(/^Bearer /, '')}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
});
// Model calls go through an egress guard; this provider is on loopback, so it says allowPrivate.
const egress = createEgressGuard({ allowedDomains: [], blockedDomains: [] });
after(async () => {
  await egress.close();
  server.close();
});

test('an error body that echoes the key is shown whole or not at all, at every padding length (fixed seed)', async () => {
  const provider = { name: 'p', type: 'openai-compatible' as const, baseUrl: base, timeoutMs: 5000, headers: {}, allowPrivate: true };
  const redactor = new SecretRedactor();
  redactor.add('model-key', KEY);
  const rnd = mulberry32(12);
  const lengths = [0, 1, 250, 280, 290, 300, 4050, 4070, 4080, 4096, 5000, ...Array.from({ length: 20 }, () => Math.floor(rnd() * 6000))];
  for (const n of lengths) {
    const err = await chat(provider, 'm', KEY, { messages: [{ role: 'user', content: 'x'.repeat(n) }] }, { egress }).then(() => undefined, (e: Error) => e);
    assert.ok(err, `padding ${n}: the call must fail`);
    const seen = String(redactor.filter(err.message));
    // No piece of the key of 4 characters or more survives redaction.
    for (let i = 0; i + 4 <= KEY.length; i++) assert.ok(!seen.includes(KEY.slice(i, i + 4)), `padding ${n}: "${KEY.slice(i, i + 4)}" leaked in ${seen.slice(-120)}`);
    assert.match(seen, /answered 401/);
  }
});
