/**
 * Issue 12 route 2: a process-isolated agent attacks its channel to the gateway (fd 3). Node's IPC is
 * gone, so NODE_HANDLE_NACK and unframed floods are just hostile bytes: every attack must end its run
 * with a clear state and code, and the gateway must keep answering /healthz.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { detectBubblewrap, memoryLimitStatus } from '../../src/sandbox/index.js';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

const bwrap = detectBubblewrap();
const skip = !bwrap.available ? `bubblewrap not available: ${bwrap.reason}` : memoryLimitStatus().kind === 'none' ? `no memory cgroup: ${memoryLimitStatus().reason}` : false;

/** A frame as the protocol defines it, built here independently of src/runtime/frames.ts. */
const frame = (v: unknown): Buffer => {
  const body = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
};
const raw = (b: Buffer | string) => ({ b64: Buffer.from(b).toString('base64') });

// The writer agent replays a recipe of raw writes to fd 3, built by the test.
const WRITER = `
import fs from 'node:fs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function writeAll(buf) {
  let off = 0;
  while (off < buf.length) {
    try { off += fs.writeSync(3, buf, off); } catch (e) { if (e.code === 'EAGAIN') continue; throw e; }
  }
}
export default async (input) => {
  for (const op of input.ops) {
    if (op.b64 !== undefined) {
      const b = Buffer.from(op.b64, 'base64');
      if (op.drip) for (let i = 0; i < b.length; i++) { writeAll(b.subarray(i, i + 1)); await sleep(op.drip); }
      else writeAll(b);
    }
    if (op.repeat) { const b = Buffer.alloc(op.repeat.size, op.repeat.fill ?? 97); for (let i = 0; i < op.repeat.count; i++) writeAll(b); }
    if (op.frames) { const one = Buffer.from(op.frames.b64, 'base64'); const b = Buffer.concat(Array(op.frames.count).fill(one)); writeAll(b); }
    // A frame too big for the request body: JSON of op.json with the string "@BIG@" grown to op.big chars.
    if (op.json) { const body = Buffer.from(JSON.stringify(op.json).replace('@BIG@', 'x'.repeat(op.big))); const h = Buffer.alloc(4); h.writeUInt32BE(body.length); writeAll(Buffer.concat([h, body])); }
    if (op.sleep) await sleep(op.sleep);
    // Well after 'done' has gone out, even on a loaded machine: written before it, it would be a violation of the run itself.
    if (op.later) setTimeout(() => { try { writeAll(Buffer.from(op.later, 'base64')); } catch {} }, 600);
    if (op.close) fs.closeSync(3);
    if (op.exit !== undefined) process.exit(op.exit);
  }
  return input.result ?? 'returned';
};`;

describe('process isolation: hostile data on the channel never reaches past the run', { skip }, () => {
  const dir = tempDir('cg-hostile-');
  let g: TestGateway;

  before(async () => {
    const A = (n: string, c: string) => writeAgent(dir, n, c);
    g = await startGateway({
      agents: {
        writer: { isolation: 'process', timeout: 4, memoryMb: 128, entry: A('writer.js', WRITER), tools: { allow: ['system.time'] } },
        session: { isolation: 'process', runtime: 'session', timeout: 4, entry: A('session.js', WRITER) },
        tricks: {
          isolation: 'process',
          timeout: 4,
          tools: { allow: ['system.time'] },
          // Hostile values through the agent API itself (the shared prelude serialises with the globals).
          entry: A('tricks.js', `
            export default async (input, ctx) => {
              const cyc = {}; cyc.self = cyc;
              const t = input.trick;
              if (t === 'stringify') JSON.stringify = () => '{';
              if (t === 'stringify-huge') JSON.stringify = () => 'x'.repeat(6 * 1024 * 1024);
              if (t === 'parse') JSON.parse = () => { throw new Error('no parse'); };
              if (t === 'array') { Array.prototype.map = null; Array.isArray = () => true; }
              if (t === 'getter') { const o = {}; Object.defineProperty(o, 'x', { enumerable: true, get() { throw new Error('getter'); } }); await ctx.tools.call('system.time', o).catch(() => 0); return o; }
              if (t === 'proxy') { const p = new Proxy({}, { ownKeys() { throw new Error('proxy'); } }); await ctx.tools.call('system.time', p).catch(() => 0); return p; }
              if (t === 'bigint') { await ctx.tools.call('system.time', { n: 1n }).catch(() => 0); return 2n; }
              if (t === 'symbol') return { s: Symbol('x') };
              if (t === 'cyclic') { await ctx.tools.call('system.time', cyc).catch(() => 0); return cyc; }
              if (t === 'deep') { let d = []; for (let i = 0; i < 1e5; i++) d = [d]; await ctx.tools.call('system.time', { d }).catch(() => 0); return d; }
              if (t === 'args-rule') {
                let d = {}; for (let i = 0; i < 200; i++) d = { d };
                // Refused calls reject in process isolation (the channel's error answer), as oversized ones always did.
                const refused = (p) => p.then((x) => x, (e) => ({ ok: false, error: { message: String(e.message) } }));
                return { deep: await refused(ctx.tools.call('system.time', d)), proto: await refused(ctx.tools.call('system.time', JSON.parse('{"__proto__": {"polluted": 1}}'))) };
              }
              if (t === 'calls') { await Promise.all(Array.from({ length: 3000 }, () => ctx.tools.call('system.time', {}).catch(() => 0))); }
              if (t === 'log') { for (let i = 0; i < 200; i++) ctx.log('x', { big: 'y'.repeat(1 << 20) }); }
              const r = await ctx.tools.call('system.time', {}).catch((e) => ({ threw: String(e.message) }));
              return { trick: t, r: typeof r };
            };`),
        },
        probe: {
          isolation: 'process',
          entry: A('probe.js', `
            import cp from 'node:child_process';
            export default async () => ({
              send: typeof process.send, channel: typeof process.channel, connected: String(process.connected),
              env: Object.keys(process.env).filter((k) => k.startsWith('NODE_')),
              forkChild: typeof cp._forkChild,
            });`),
        },
        forked: {
          isolation: 'process',
          timeout: 4,
          // Build Node's own IPC channel on fd 3 from inside and send the message that used to kill the gateway.
          entry: A('forked.js', `
            import cp from 'node:child_process';
            export default async () => {
              cp._forkChild(3, 'json');
              process.send({ cmd: 'NODE_HANDLE_NACK' });
              process.send({ cmd: 'NODE_HANDLE', type: 'net.Socket', msg: { cmd: 'NODE_HANDLE_ACK' } });
              await new Promise((r) => setTimeout(r, 500));
              return 'sent';
            };`),
        },
        binding: {
          isolation: 'process',
          timeout: 4,
          entry: A('binding.js', `
            export default async () => {
              const { Pipe, constants } = process.binding('pipe_wrap');
              const p = new Pipe(constants.IPC);
              p.open(3);
              const { WriteWrap } = process.binding('stream_wrap');
              const req = new WriteWrap(); req.oncomplete = () => {}; req.async = false;
              const err = p.writeUtf8String(req, JSON.stringify({ cmd: 'NODE_HANDLE_NACK' }) + '\\n');
              await new Promise((r) => setTimeout(r, 500));
              return { err };
            };`),
        },
      },
    });
  });
  after(async () => {
    await g?.close();
  });

  const healthy = async () => {
    const h = await g.call('GET', '/healthz');
    assert.equal(h.status, 200, 'the gateway still answers /healthz');
  };
  /** Run the writer with `ops`; returns the finished run after checking the gateway is unharmed. */
  const attack = async (ops: unknown[], result?: unknown, profile = 'writer') => {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile, input: { ops, ...(result !== undefined ? { result } : {}) } });
    assert.equal(r.status, 200, r.text);
    await healthy();
    return r.json;
  };
  const endedWith = (r: { state: string; error?: { code: string } }, state: string, code: string) => {
    assert.equal(r.state, state, JSON.stringify(r).slice(0, 400));
    assert.equal(r.error?.code, code, JSON.stringify(r).slice(0, 400));
  };

  test('agent code sees no IPC: process.send, process.channel and NODE_CHANNEL_* are absent', async () => {
    const r = (await g.call('POST', '/v1/runs?wait=1', { profile: 'probe' })).json;
    assert.equal(r.state, 'succeeded', JSON.stringify(r));
    assert.equal(r.output.send, 'undefined');
    assert.equal(r.output.channel, 'undefined');
    assert.deepEqual(r.output.env, []);
  });

  test('NODE_HANDLE_NACK as raw Node-IPC JSON on fd 3 is a protocol violation of that run', async () => {
    endedWith(await attack([raw(`${JSON.stringify({ cmd: 'NODE_HANDLE_NACK' })}\n`), { sleep: 500 }]), 'failed', 'protocol_violation');
  });

  test('NODE_HANDLE_NACK through a channel rebuilt from inside (child_process._forkChild, process.binding)', async () => {
    for (const profile of ['forked', 'binding']) {
      const r = (await g.call('POST', '/v1/runs?wait=1', { profile })).json;
      await healthy();
      // Depending on how far Node lets it get: our decoder refuses the bytes, or the rebuilt handle fails inside.
      if (r.state === 'succeeded') assert.notEqual(r.output.err, 0, `${profile}: only a write that never happened leaves the run alone`);
      else assert.ok(r.state === 'failed' && ['protocol_violation', 'agent_error', 'crashed'].includes(r.error.code), `${profile}: ${JSON.stringify(r)}`);
    }
  });

  test('a 4 GiB length prefix, and a length one past the 8 MiB cap, are refused at once', async () => {
    endedWith(await attack([raw(Buffer.from([0xff, 0xff, 0xff, 0xff])), { sleep: 2000 }]), 'failed', 'protocol_violation');
    const h = Buffer.alloc(4);
    h.writeUInt32BE(8 * 1024 * 1024 + 1);
    endedWith(await attack([raw(h), { sleep: 2000 }]), 'failed', 'protocol_violation');
  });

  test('640 MiB without framing, and 640 MiB after a valid 8 MiB header, end the run, not the gateway', async () => {
    const t0 = Date.now();
    endedWith(await attack([{ repeat: { size: 1 << 20, count: 640 } }]), 'failed', 'protocol_violation');
    const h = Buffer.alloc(4);
    h.writeUInt32BE(8 * 1024 * 1024);
    endedWith(await attack([raw(h), { repeat: { size: 1 << 20, count: 640 } }]), 'failed', 'protocol_violation');
    assert.ok(Date.now() - t0 < 8000, 'refused early, not after reading it all');
  });

  test('a frame dripped one byte at a time is read correctly (framing, not timing, decides)', async () => {
    const r = await attack([{ ...raw(frame({ type: 'log', level: 'info', msg: 'drip', fields: '{"a":1}' })), drip: 1 }], { dripped: true });
    assert.equal(r.state, 'succeeded', JSON.stringify(r));
    assert.deepEqual(r.output, { dripped: true });
  });

  test('a flood of tiny frames (200k logs, then 100k calls) ends the run as a protocol violation', async () => {
    const log = frame({ type: 'log', level: 'debug', msg: 'x', fields: 'null' });
    endedWith(await attack([{ frames: { b64: log.toString('base64'), count: 200_000 } }, { sleep: 1000 }]), 'failed', 'protocol_violation');
    const call = frame({ type: 'call', id: 1, kind: 'tool', name: 'system.time', args: '{}' });
    endedWith(await attack([{ frames: { b64: call.toString('base64'), count: 100_000 } }, { sleep: 1000 }]), 'failed', 'protocol_violation');
  });

  test('unknown message types and non-object frames are protocol violations', async () => {
    for (const v of [{ type: 'hello' }, { type: '__proto__' }, { type: 'constructor' }, { type: 'result', id: 1, text: '1' }, { type: 'start' }, [1, 2], 'null', '42', '"ready"', '{"type":"ready"']) {
      endedWith(await attack([raw(frame(v)), { sleep: 1000 }]), 'failed', 'protocol_violation');
    }
    // Not UTF-8: a frame of the right length whose body is invalid bytes.
    const h = Buffer.alloc(4);
    h.writeUInt32BE(30);
    endedWith(await attack([raw(Buffer.concat([h, Buffer.alloc(30, 0xff)])), { sleep: 1000 }]), 'failed', 'protocol_violation');
  });

  test("a 'done' or 'call' with hostile fields is bad_agent_data; forged error codes stay identifiers", async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const cases: unknown[] = [
      { type: 'done', ok: true, outputJson: 'not json', clock: [] },
      { type: 'done', ok: true, outputJson: 5 },
      { type: 'done', ok: 'yes', outputJson: '1' },
      { type: 'done', ok: true, outputJson: '1', clock: ['x'] },
      { type: 'done', ok: true, outputJson: '1', usage: { cpuSeconds: -1, heapBytes: 0 } },
      { type: 'done', ok: false, kind: 'memory_limit', message: 'spoofed' },
      { type: 'done', ok: false, kind: 'agent_error', message: { toString: 1 } },
      { type: 'call', id: -1, kind: 'tool', name: 'system.time', args: '{}' },
      { type: 'call', id: 1, kind: 'exec', name: 'system.time', args: '{}' },
      { type: 'call', id: 1, kind: 'tool', name: 'x'.repeat(300), args: '{}' },
      { type: 'log', level: 'fatal', msg: 'x', fields: '{}' },
      { type: 'done', ok: true, outputJson: deep.slice(0, 5) },
    ];
    for (const c of cases) endedWith(await attack([raw(frame(c)), { sleep: 1000 }]), 'failed', 'bad_agent_data');
    // A deeply nested but valid result is data, not an attack on the parser.
    const nested = await attack([raw(frame({ type: 'done', ok: true, outputJson: deep })), { sleep: 1000 }]);
    assert.ok(['succeeded', 'failed'].includes(nested.state), JSON.stringify(nested).slice(0, 300));
    const forged = await attack([{ json: { type: 'done', ok: false, kind: 'agent_error', message: '@BIG@', code: 'c'.repeat(1000) }, big: 5 << 20 }, { sleep: 1000 }]);
    assert.equal(forged.state, 'failed');
    assert.equal(forged.error.code, 'agent_error', 'an over-long code is dropped');
    assert.ok(forged.error.message.length <= 64 * 1024, 'the message is cut');
  });

  test('call arguments over 4 MiB are answered as a call error, the run goes on', async () => {
    // Forged on the wire (the child's own API refuses before sending): the gateway answers, the run goes on.
    const wire = await attack([{ json: { type: 'call', id: 999, kind: 'tool', name: 'system.time', args: '@BIG@' }, big: 5 << 20 }, { sleep: 200 }], 'went on');
    assert.equal(wire.state, 'succeeded', JSON.stringify(wire).slice(0, 300));
    assert.equal(wire.output, 'went on');
    // One past the 8 MiB frame cap, built the same way: refused as a frame.
    endedWith(await attack([{ json: { type: 'call', id: 1, kind: 'tool', name: 'system.time', args: '@BIG@' }, big: 8 << 20 }, { sleep: 500 }]), 'failed', 'protocol_violation');
  });

  test("writes after 'done' and frames out of turn do not touch the finished run", async () => {
    // A session keeps its child between runs: garbage written after 'done' ends that child, not the run.
    const sess = async (ops: unknown[]) => {
      const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'session', sessionKey: 'k1', input: { ops, result: { fine: 1 } } });
      await healthy();
      return r.json;
    };
    const r = await sess([{ later: Buffer.from('garbage after done').toString('base64') }]);
    assert.equal(r.state, 'succeeded', JSON.stringify(r));
    assert.deepEqual(r.output, { fine: 1 });
    await new Promise((res) => setTimeout(res, 1000));
    const next = await sess([]);
    assert.equal(next.state, 'succeeded', `the session got a fresh child: ${JSON.stringify(next)}`);
    const late = await attack([{ later: Buffer.from('garbage after done').toString('base64') }], { fine: 2 });
    assert.equal(late.state, 'succeeded', JSON.stringify(late));
    endedWith(await attack([raw(frame({ type: 'ready' })), { sleep: 1000 }]), 'failed', 'protocol_violation');
  });

  test('exiting mid-frame, and closing fd 3 early, end the run as crashed or protocol_violation', async () => {
    const f = frame({ type: 'log', level: 'info', msg: 'half', fields: '{}' });
    const mid = await attack([raw(f.subarray(0, 9)), { exit: 3 }]);
    endedWith(mid, 'failed', 'crashed');
    assert.match(mid.error.message, /middle of a frame/);
    const closed = await attack([{ close: true }, { sleep: 200 }]);
    assert.ok(closed.state === 'failed' && ['crashed', 'protocol_violation'].includes(closed.error.code), JSON.stringify(closed));
    // Closed and still alive: it can never report 'done', so the run ends well before its timeout.
    const t0 = Date.now();
    endedWith(await attack([{ close: true }, { sleep: 3500 }]), 'failed', 'protocol_violation');
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  test('hostile values through the agent API (replaced JSON and Array, getters, Proxy, BigInt, Symbol, cycles, depth, 3000 calls)', async () => {
    for (const trick of ['stringify', 'stringify-huge', 'parse', 'array', 'getter', 'proxy', 'bigint', 'symbol', 'cyclic', 'deep', 'calls', 'log']) {
      const r = (await g.call('POST', '/v1/runs?wait=1', { profile: 'tricks', input: { trick } })).json;
      await healthy();
      const clear = r.state === 'succeeded' || (r.state === 'failed' && ['agent_error', 'output_invalid', 'bad_agent_data', 'protocol_violation', 'crashed', 'output_too_large'].includes(r.error?.code));
      assert.ok(clear, `${trick}: ${JSON.stringify(r).slice(0, 300)}`);
    }
  });

  test('call arguments from a process agent meet the same rule as from an isolate: depth limit, no __proto__ key', async () => {
    const r = (await g.call('POST', '/v1/runs?wait=1', { profile: 'tricks', input: { trick: 'args-rule' } })).json;
    await healthy();
    assert.equal(r.state, 'succeeded', JSON.stringify(r).slice(0, 300));
    assert.equal(r.output.deep.ok, false);
    assert.match(r.output.deep.error.message, /nested deeper than 100 levels/);
    assert.equal(r.output.proto.ok, false);
    assert.match(r.output.proto.error.message, /__proto__/);
  });

  test('randomised channel attacks (seed 12): every run ends clearly and the gateway stays up', async () => {
    const rnd = mulberry32(12);
    const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    const valid = () => frame(pick([{ type: 'log', level: 'info', msg: 'v', fields: '{}' }, { type: 'call', id: 1 + Math.floor(rnd() * 1e6), kind: 'tool', name: 'system.time', args: '{}' }]));
    const hostile = () =>
      pick<() => Buffer>([
        () => bytes(1 + Math.floor(rnd() * 64)),
        () => frame({ type: pick(['x', 'READY', 'done ', '', 'call\u0000']) }),
        () => frame({ type: 'done', ok: pick([true, false, null, 1]), outputJson: pick(['{', 1, null, '"ok"']), kind: pick(['agent_error', 'x', 7]) }),
        () => { const b = Buffer.alloc(4); b.writeUInt32BE(Math.floor(rnd() * 0xffffffff)); return b; },
        () => Buffer.concat([valid(), bytes(8)]),
      ])();
    for (let i = 0; i < 14; i++) {
      const parts = [valid(), hostile(), valid()];
      const all = Buffer.concat(parts);
      // Split at random points, some parts dripped, so framing is tested against every chunking.
      const ops: unknown[] = [];
      let off = 0;
      while (off < all.length) {
        const n = 1 + Math.floor(rnd() * 40);
        ops.push({ ...raw(all.subarray(off, off + n)), ...(rnd() < 0.2 ? { drip: 1 } : {}) });
        off += n;
      }
      ops.push({ sleep: 300 });
      const r = await attack(ops, i);
      const ok =
        r.state === 'timed_out' ||
        (r.state === 'failed' && ['protocol_violation', 'bad_agent_data', 'crashed'].includes(r.error?.code)) ||
        r.state === 'succeeded';
      assert.ok(ok, `variant ${i}: ${JSON.stringify(r).slice(0, 300)}`);
    }
    const st = await g.call('GET', '/v1/status');
    assert.equal(st.status, 200);
  });
});
