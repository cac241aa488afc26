/**
 * Issue 12, memory weakness: under process isolation every byte an agent touches counts against
 * memoryMb (a memory cgroup), not only the V8 old space. Going over ends that run as killed with
 * reason memory_limit; the gateway keeps serving. Without a memory cgroup, process isolation refuses.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectBubblewrap, memoryLimitStatus, resetMemoryCgroupDetection } from '../../src/sandbox/index.js';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

const bwrap = detectBubblewrap();
const memcg = memoryLimitStatus();
const skip = !bwrap.available ? `bubblewrap not available: ${bwrap.reason}` : memcg.kind === 'none' ? `no memory cgroup here: ${memcg.reason}` : false;

// Allocates what input describes, touching every page (an untouched reservation is not memory).
const HOG = `
export default async (input) => {
  const keep = [];
  let total = 0;
  for (const step of input.steps) {
    const mb = step.mb;
    if (step.kind === 'buffer') keep.push(Buffer.alloc(mb * 1048576, 1));
    else if (step.kind === 'unsafe') keep.push(Buffer.allocUnsafe(mb * 1048576).fill(2));
    else if (step.kind === 'arraybuffer') { const ab = new ArrayBuffer(mb * 1048576); new Uint8Array(ab).fill(3); keep.push(ab); }
    else if (step.kind === 'wasm') { const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); m.grow(mb * 16); new Uint8Array(m.buffer).fill(4); keep.push(m); }
    else if (step.kind === 'strings') { const a = []; for (let i = 0; i < mb; i++) a.push(('s' + i).repeat(1048576 / 4 | 0).split('').join('')); keep.push(a); }
    total += mb;
  }
  return { total, kept: keep.length };
};`;

describe('process isolation: the memory limit holds for every kind of allocation', { skip }, () => {
  const dir = tempDir('cg-procmem-');
  let g: TestGateway;

  before(async () => {
    g = await startGateway({ agents: { hog: { isolation: 'process', memoryMb: 128, timeout: 30, entry: writeAgent(dir, 'hog.js', HOG) } } });
  });
  after(async () => {
    await g?.close();
  });

  const run = async (steps: Array<{ kind: string; mb: number }>) => {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'hog', input: { steps } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await g.call('GET', '/healthz')).status, 200, 'the gateway still answers /healthz');
    return r.json;
  };
  const killedForMemory = (r: { state: string; reason?: string; error?: { code: string } }, what: string) => {
    assert.equal(r.state, 'killed', `${what}: ${JSON.stringify(r).slice(0, 300)}`);
    assert.equal(r.reason, 'memory_limit', what);
    assert.equal(r.error?.code, 'memory_limit', what);
  };

  test('status names the memory cgroup that bounds process isolation', async () => {
    const s = await g.call('GET', '/v1/status');
    assert.equal(s.status, 200);
    assert.equal(s.json.isolation.process.available, true);
    assert.match(String(s.json.sandbox.memoryLimit.kind), /^cgroup-v[12]$/);
  });

  test('Buffer.alloc(1.5 GiB) under memoryMb 128 ends as killed / memory_limit', async () => {
    killedForMemory(await run([{ kind: 'buffer', mb: 1536 }]), 'Buffer.alloc');
    killedForMemory(await run([{ kind: 'unsafe', mb: 1536 }]), 'Buffer.allocUnsafe + fill');
  });

  test('many 64 MiB ArrayBuffers, and WebAssembly memory, count too', async () => {
    killedForMemory(await run(Array.from({ length: 12 }, () => ({ kind: 'arraybuffer', mb: 64 }))), '12 x 64 MiB ArrayBuffers');
    killedForMemory(await run([{ kind: 'wasm', mb: 512 }]), 'WebAssembly.Memory of 512 MiB');
  });

  test('an agent within its budget is not killed (the slack covers Node itself)', async () => {
    const r = await run([{ kind: 'buffer', mb: 48 }, { kind: 'arraybuffer', mb: 32 }]);
    assert.equal(r.state, 'succeeded', JSON.stringify(r).slice(0, 300));
    assert.deepEqual(r.output, { total: 80, kept: 2 });
  });

  test('randomised allocation mixes (seed 1212): over the budget is memory_limit, well under succeeds', async () => {
    const rnd = mulberry32(1212);
    const kinds = ['buffer', 'unsafe', 'arraybuffer', 'wasm'];
    for (let i = 0; i < 8; i++) {
      const over = i % 2 === 0;
      const steps: Array<{ kind: string; mb: number }> = [];
      let total = 0;
      const target = over ? 400 + Math.floor(rnd() * 800) : 16 + Math.floor(rnd() * 40);
      while (total < target) {
        const mb = Math.max(1, Math.min(target - total, 1 + Math.floor(rnd() * (over ? 256 : 24))));
        steps.push({ kind: kinds[Math.floor(rnd() * kinds.length)]!, mb });
        total += mb;
      }
      const r = await run(steps);
      if (over) killedForMemory(r, `variant ${i} (${total} MiB)`);
      else assert.equal(r.state, 'succeeded', `variant ${i} (${total} MiB): ${JSON.stringify(r).slice(0, 300)}`);
    }
  });
});

test('without a memory cgroup, process isolation refuses to run (fail closed) and status says why', { skip }, async () => {
  const prev = process.env.CLAWGUARD_SANDBOX_CGROUP;
  process.env.CLAWGUARD_SANDBOX_CGROUP = 'off';
  resetMemoryCgroupDetection();
  const dir = tempDir('cg-nomemcg-');
  writeFileSync(join(dir, 'a.js'), 'export default async () => 1');
  const g = await startGateway({ agents: { p: { isolation: 'process', entry: join(dir, 'a.js') }, t: { entry: join(dir, 'a.js') } } });
  try {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'p' });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'sandbox_unavailable');
    const s = await g.call('GET', '/v1/status');
    assert.equal(s.json.isolation.process.available, false);
    assert.match(s.json.isolation.process.reason, /memory cgroup/);
    assert.equal((await g.call('POST', '/v1/runs?wait=1', { profile: 't' })).json.state, 'succeeded', 'thread isolation is unaffected');
    assert.equal((await g.call('GET', '/healthz')).status, 200);
  } finally {
    await g.close();
    if (prev === undefined) delete process.env.CLAWGUARD_SANDBOX_CGROUP;
    else process.env.CLAWGUARD_SANDBOX_CGROUP = prev;
    resetMemoryCgroupDetection();
  }
});
