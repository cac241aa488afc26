/**
 * Every byte a thread-isolated agent allocates counts against memoryMb: WebAssembly is gone (and
 * cannot be found again), resizable and growable buffers are refused, counted buffers are bounded.
 * The gateway's RSS is the witness: without the fix a WebAssembly.Memory reaches 2 GiB here.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { assertContained, watchUnhandled } from './thread-attacks.js';

const dir = tempDir('cg-memory-');
const A = (name: string, code: string) => writeAgent(dir, name, code);

const agents = {
  wasmGrow: A('wasm-grow.js', `export default async function () {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    m.grow(16000);
    new Uint8Array(m.buffer).fill(1);
    return m.buffer.byteLength;
  }`),
  // Every route to WebAssembly or to the original buffer constructors an agent might try.
  routes: A('routes.js', `export default async function () {
    const r = {};
    const g = (0, eval)('this');
    r.typeofWasm = typeof WebAssembly;
    r.globalKeys = Reflect.ownKeys(globalThis).filter((k) => typeof k === 'string' && /wasm|webassembly/i.test(k));
    r.viaFunction = Function('return typeof WebAssembly')();
    r.viaEval = typeof g.WebAssembly;
    r.viaProtoChain = (() => { let o = globalThis; const seen = []; while (o) { if (Object.getOwnPropertyNames(o).includes('WebAssembly')) seen.push('found'); o = Object.getPrototypeOf(o); } return seen; })();
    const tries = {
      global: () => new ArrayBuffer(8, { maxByteLength: 1 << 30 }),
      viaView: () => new (new Uint8Array(1).buffer.constructor)(8, { maxByteLength: 1 << 30 }),
      viaProto: () => new ArrayBuffer.prototype.constructor(8, { maxByteLength: 1 << 30 }),
      viaSubclass: () => { class B extends ArrayBuffer {} return new B(8, { maxByteLength: 1 << 30 }); },
      viaReflect: () => Reflect.construct(Object.getPrototypeOf(new ArrayBuffer(1)).constructor, [8, { maxByteLength: 1 << 30 }]),
      viaSpecies: () => new (ArrayBuffer[Symbol.species])(8, { maxByteLength: 1 << 30 }),
      viaSlice: () => { const b = new ArrayBuffer(8); b.constructor = function () {}; return b.slice(0).resizable; },
      sharedGrowable: () => new SharedArrayBuffer(8, { maxByteLength: 1 << 30 }),
      sharedViaView: () => new (new Int32Array(new SharedArrayBuffer(4)).buffer.constructor)(8, { maxByteLength: 1 << 30 }),
    };
    r.resizable = {};
    for (const [k, f] of Object.entries(tries)) {
      try { const b = f(); r.resizable[k] = b === false || b === undefined ? 'fixed' : b.resizable || b.growable ? 'RESIZABLE' : 'fixed'; } catch (e) { r.resizable[k] = e.constructor.name; }
    }
    r.resize = typeof ArrayBuffer.prototype.resize;
    r.grow = typeof SharedArrayBuffer.prototype.grow;
    const plain = new ArrayBuffer(16);
    r.plainWorks = plain.byteLength === 16 && plain instanceof ArrayBuffer && new Uint8Array(plain).length === 16 && ArrayBuffer.isView(new Uint8Array(1));
    class Sub extends ArrayBuffer {}
    r.subclassWorks = new Sub(4) instanceof Sub && new Sub(4).byteLength === 4;
    try { ArrayBuffer(4); r.callWithoutNew = 'allowed'; } catch (e) { r.callWithoutNew = e.constructor.name; }
    return r;
  }`),
  resizableBomb: A('resizable-bomb.js', `export default async function () {
    const k = [];
    for (let i = 0; i < 8; i++) { const b = new ArrayBuffer(1 << 27, { maxByteLength: 1 << 27 }); new Uint8Array(b).fill(1); k.push(b); }
    return k.length;
  }`),
  bufferBomb: A('buffer-bomb.js', `export default async function () {
    const k = [];
    for (let i = 0; i < 64; i++) { const b = new Uint8Array(16 << 20); b.fill(1); k.push(b); }
    return k.length;
  }`),
  sharedBomb: A('shared-bomb.js', `export default async function () {
    const k = [];
    for (let i = 0; i < 64; i++) { const b = new Int32Array(new SharedArrayBuffer(16 << 20)); b.fill(1); k.push(b); }
    return k.length;
  }`),
  heapBomb: A('heap-bomb.js', `export default async function () { const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length); }`),
};

let g: TestGateway;
const unhandled = watchUnhandled();
before(async () => {
  const p = (entry: string) => ({ entry, memoryMb: 64, timeout: 20, warmPool: 0 });
  g = await startGateway({ agents: Object.fromEntries(Object.entries(agents).map(([k, v]) => [k, p(v)])) });
});
after(async () => {
  await g?.close();
  unhandled.stop();
});
afterEach(() => assert.deepEqual(unhandled.events.splice(0), []));

const rssMb = () => process.memoryUsage().rss / 2 ** 20;
async function run(profile: string) {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile });
  assert.equal(r.status, 200, r.text);
  await assertContained(g, r.json, unhandled.events, profile);
  return r.json;
}

describe('thread isolation: memory outside the limit is not reachable', () => {
  test('WebAssembly.Memory cannot grow past memoryMb: there is no WebAssembly, and the gateway does not grow', async () => {
    const before = rssMb();
    const r = await run('wasmGrow');
    assert.equal(r.state, 'failed');
    assert.match(r.error.message, /WebAssembly is not defined/);
    assert.ok(rssMb() - before < 256, `the gateway grew by ${Math.round(rssMb() - before)} MiB`);
  });

  test('no route back to WebAssembly or to a resizable/growable buffer; fixed buffers still work', async () => {
    const r = await run('routes');
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
    const o = r.output;
    assert.ok(o.resizable.viaSlice === 'fixed' || o.resizable.viaSlice === 'TypeError', JSON.stringify(o));
    assert.equal(o.typeofWasm, 'undefined');
    assert.deepEqual(o.globalKeys, []);
    assert.equal(o.viaFunction, 'undefined');
    assert.equal(o.viaEval, 'undefined');
    assert.deepEqual(o.viaProtoChain, []);
    for (const [k, v] of Object.entries(o.resizable as Record<string, string>)) assert.ok(v === 'RangeError' || v === 'fixed', `${k}: ${v}`);
    for (const k of ['global', 'viaView', 'viaProto', 'viaSubclass', 'viaReflect', 'viaSpecies', 'sharedGrowable', 'sharedViaView']) assert.equal(o.resizable[k], 'RangeError', k);
    assert.equal(o.resize, 'undefined');
    assert.equal(o.grow, 'undefined');
    assert.equal(o.plainWorks, true);
    assert.equal(o.subclassWorks, true);
    assert.equal(o.callWithoutNew, 'TypeError');
  });

  test('resizable, typed-array, shared and heap bombs end inside the limit: refused or memory_limit, never the host', async () => {
    for (const profile of ['resizableBomb', 'bufferBomb', 'sharedBomb', 'heapBomb']) {
      const before = rssMb();
      const r = await run(profile);
      const grew = rssMb() - before;
      assert.ok(grew < 256, `${profile}: the gateway grew by ${Math.round(grew)} MiB`);
      if (r.state === 'killed') {
        assert.equal(r.error.code, 'memory_limit', profile);
        assert.equal(r.reason, 'memory_limit', profile);
      } else {
        assert.equal(r.state, 'failed', `${profile}: ${JSON.stringify(r)}`);
        assert.match(r.error.message, /allocation failed|not available in thread isolation|Invalid typed array length|Array buffer/i, profile);
      }
    }
    assert.equal((await run('heapBomb')).error.code, 'memory_limit', 'a heap bomb is memory_limit');
  });
});
