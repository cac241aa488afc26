/**
 * The process guard, in a gateway process of its own (a child, so that this runner's handlers do
 * not stand in for it): an unhandled rejection and an uncaught exception are logged and counted,
 * and the gateway keeps serving. The same script without a started gateway dies of them, which is
 * what shows that the guard, installed by Gateway.start, is what keeps the process alive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { tempDir, writeAgent } from '../helpers/gateway.js';

const helper = pathToFileURL(resolve('dist/test/helpers/gateway.js')).href;

const script = (startGateway: boolean) => `
import { startGateway } from ${JSON.stringify(helper)};
const out = { listenersBefore: process.listenerCount('unhandledRejection') };
const lines = [];
let g, g2;
if (${startGateway}) {
  g = await startGateway({ agents: {} });
  g2 = await startGateway({ agents: {} }, { logLines: lines });
}
out.listenersAfter = process.listenerCount('unhandledRejection');
Promise.reject(new Error('nobody handles this rejection'));
setTimeout(() => { throw new Error('thrown from a timer'); }, 0);
await new Promise((r) => setTimeout(r, 200));
if (g2) {
  out.health = (await g2.call('GET', '/healthz')).status;
  out.metric = (await g2.call('GET', '/metrics')).text.split('\\n').filter((l) => l.startsWith('clawguard_process_unhandled_errors_total'));
  out.logged = lines.filter((l) => l.component === 'process-guard').map((l) => ({ event: l.event, err: l.err && l.err.message }));
  await g.close();
  await g2.close();
}
console.log(JSON.stringify(out));
`;

function runChild(startGateway: boolean): { status: number | null; out: any; stderr: string } {
  const dir = tempDir('cg-guard-');
  const file = writeAgent(dir, 'guarded.mjs', script(startGateway));
  const r = spawnSync(process.execPath, ['--no-node-snapshot', file], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let out: unknown = null;
  try {
    out = JSON.parse(last);
  } catch {
    /* the child died before printing */
  }
  return { status: r.status, out, stderr: r.stderr };
}

test('a gateway process survives an unhandled rejection and an uncaught exception: logged, counted, still serving', () => {
  const r = runChild(true);
  assert.equal(r.status, 0, r.stderr);
  const o = r.out;
  assert.ok(o, r.stderr);
  assert.equal(o.listenersAfter - o.listenersBefore, 1, 'installed once, however many gateways start');
  assert.equal(o.health, 200);
  assert.deepEqual(o.logged, [
    { event: 'process.unhandledRejection', err: 'nobody handles this rejection' },
    { event: 'process.uncaughtException', err: 'thrown from a timer' },
  ]);
  assert.ok(o.metric.includes('clawguard_process_unhandled_errors_total{kind="unhandledRejection"} 1'), o.metric.join('\n'));
  assert.ok(o.metric.includes('clawguard_process_unhandled_errors_total{kind="uncaughtException"} 1'), o.metric.join('\n'));
});

test('without a started gateway the same process dies of it (the guard is what keeps it alive)', () => {
  const r = runChild(false);
  assert.notEqual(r.status, 0);
  assert.equal(r.out, null);
  assert.match(r.stderr, /nobody handles this rejection/);
});

