/**
 * Randomised containment (fixed seed, reproducible): 60 runs, each applying a random set of global
 * tampers and then a random crossing action, some concurrently. Every run must end in a clear
 * state with a stable code; the gateway must keep answering; nothing may go unhandled.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';
import { type Action, type Tamper, ACTIONS, HOSTILE_AGENT, TAMPERS, assertContained, registerEcho, watchUnhandled } from './thread-attacks.js';

const SEED = 0x0c1a_5e12;
const RUNS = 60;
// Too slow to draw 60 times (each is tested on its own in thread-hostile.test.ts).
const SLOW: Action[] = ['calls10k', 'logHuge', 'argsDeep100k', 'returnDeep100k'];

let g: TestGateway;
const unhandled = watchUnhandled();
before(async () => {
  const entry = writeAgent(tempDir('cg-random-'), 'hostile.js', HOSTILE_AGENT);
  g = await startGateway({ agents: { hostile: { entry, tools: { allow: ['system.time', 'test.echo'] }, timeout: 3, memoryMb: 64, warmPool: 2, 'max-concurrent': 4 } } }, { extraTools: ['test.echo'] });
  registerEcho(g);
});
after(async () => {
  await g?.close();
  unhandled.stop();
});

test(`${RUNS} runs of random tampers and crossings (seed ${SEED.toString(16)}): each ends clearly, the gateway keeps serving`, async () => {
  const rnd = mulberry32(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const tamperNames = Object.keys(TAMPERS) as Tamper[];
  const actionNames = (Object.keys(ACTIONS) as Action[]).filter((a) => !SLOW.includes(a));
  const plans = Array.from({ length: RUNS }, () => {
    const tampers = tamperNames.filter(() => rnd() < 0.25);
    return { tampers, action: pick(actionNames) };
  });
  const states: Record<string, number> = {};
  // In groups of three at once: crossings of concurrent runs must not disturb each other either.
  for (let i = 0; i < plans.length; i += 3) {
    await Promise.all(plans.slice(i, i + 3).map(async (plan, j) => {
      const what = `#${i + j} ${plan.tampers.join('+') || 'no tamper'} / ${plan.action}`;
      const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'hostile', input: plan });
      assert.equal(r.status, 200, `${what}: ${r.text}`);
      await assertContained(g, r.json, unhandled.events, what);
      const key = r.json.state === 'succeeded' ? 'succeeded' : `${r.json.state}:${r.json.error.code}`;
      states[key] = (states[key] ?? 0) + 1;
    }));
  }
  // The mix did hit both sides of the boundary: some runs survive their tampering, some fail clearly.
  assert.ok((states.succeeded ?? 0) > 0, JSON.stringify(states));
  assert.ok(Object.keys(states).some((k) => k.startsWith('failed:')), JSON.stringify(states));
  const after = await g.call('POST', '/v1/runs?wait=1', { profile: 'hostile', input: { tampers: [], action: 'call' } });
  assert.deepEqual(after.json.output, { ok: true, echoed: { a: [1, 2, 3], s: 'x' } }, 'a clean run afterwards works');
});
