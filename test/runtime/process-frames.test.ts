/**
 * The frame decoder and the child-message checks on their own: every chunking of a valid stream decodes
 * to the same messages, hostile lengths are refused on their four bytes, a drip costs O(n), and the
 * flood budget trips on a flood but not on a busy agent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChildMessageError, FrameBudget, parseChildMessage } from '../../src/runtime/child-messages.js';
import { FrameDecoder, FrameError, MAX_CHILD_FRAME_BYTES, encodeFrame } from '../../src/runtime/frames.js';
import { mulberry32 } from '../helpers/prng.js';

test('any chunking of a stream of frames decodes to the same messages (seed 7)', () => {
  const rnd = mulberry32(7);
  for (let round = 0; round < 50; round++) {
    const msgs = Array.from({ length: 1 + Math.floor(rnd() * 20) }, (_, i) => ({ type: 'log', level: 'info', msg: 'é🙂'.repeat(Math.floor(rnd() * 50)), fields: String(i) }));
    const all = Buffer.concat(msgs.map((m) => encodeFrame(m, MAX_CHILD_FRAME_BYTES)));
    const d = new FrameDecoder(MAX_CHILD_FRAME_BYTES);
    const got: unknown[] = [];
    for (let off = 0; off < all.length; ) {
      const n = rnd() < 0.3 ? 1 : 1 + Math.floor(rnd() * 200);
      for (const b of d.push(all.subarray(off, off + n))) got.push(parseChildMessage(b));
      off += n;
    }
    assert.deepEqual(got, msgs);
    assert.equal(d.midFrame, false);
  }
});

test('a length over the cap is refused on its four bytes, and the decoder stays failed', () => {
  for (const len of [0xffffffff, MAX_CHILD_FRAME_BYTES + 1, 0x7b22636d /* '{"cm' of Node IPC JSON */]) {
    const d = new FrameDecoder(MAX_CHILD_FRAME_BYTES);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(len >>> 0);
    assert.throws(() => d.push(h), FrameError);
    assert.equal(d.pendingBytes, 0, 'nothing is kept of a refused frame');
    assert.throws(() => d.push(encodeFrame({ type: 'ready' }, 100)), FrameError);
  }
  const atCap = Buffer.alloc(4);
  atCap.writeUInt32BE(MAX_CHILD_FRAME_BYTES);
  const d = new FrameDecoder(MAX_CHILD_FRAME_BYTES);
  assert.deepEqual(d.push(atCap), []);
  assert.equal(d.midFrame, true);
  assert.throws(() => encodeFrame({ s: 'x'.repeat(MAX_CHILD_FRAME_BYTES) }, MAX_CHILD_FRAME_BYTES), FrameError);
});

test('a 1 MiB frame dripped one byte at a time is decoded in linear time', () => {
  const f = encodeFrame({ type: 'log', level: 'info', msg: 'x', fields: JSON.stringify('y'.repeat(1 << 20)) }, MAX_CHILD_FRAME_BYTES);
  const d = new FrameDecoder(MAX_CHILD_FRAME_BYTES);
  const t0 = performance.now();
  let out: Buffer[] = [];
  for (let i = 0; i < f.length; i++) out = out.concat(d.push(f.subarray(i, i + 1)));
  assert.equal(out.length, 1);
  assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
});

test('child messages: unknown types are protocol violations, bad fields are bad_agent_data', () => {
  const code = (v: unknown) => {
    try {
      parseChildMessage(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof ChildMessageError);
      return e.code;
    }
  };
  assert.equal(code('{"type":"ready"'), 'protocol_violation');
  assert.equal(code({ type: 'toString' }), 'protocol_violation');
  assert.equal(code('{"__proto__":{"type":"ready"}}'), 'protocol_violation');
  assert.equal(code([{ type: 'ready' }]), 'protocol_violation');
  assert.equal(code({ type: 'ready' }), 'ok');
  assert.equal(code({ type: 'call', id: 1.5, kind: 'tool', name: 'a', args: '{}' }), 'bad_agent_data');
  assert.equal(code({ type: 'call', id: 1, kind: 'tool', name: 'a', args: {} }), 'bad_agent_data');
  assert.equal(code({ type: 'done', ok: true, outputJson: '1', clock: [Infinity] }), 'bad_agent_data', 'JSON has no Infinity: it arrives as null');
  assert.equal(code({ type: 'done', ok: true, outputJson: '1', clock: [1, 2.5] }), 'ok');
  assert.equal(code({ type: 'done', ok: false, kind: 'crashed', message: 'x', code: 'memory limit!' }), 'ok');
  const m = parseChildMessage(Buffer.from(JSON.stringify({ type: 'done', ok: false, kind: 'crashed', message: 'x', code: 'memory limit!' })));
  assert.equal('code' in m && m.code, false, 'a code that is not an identifier is dropped');
  const invalidUtf8 = Buffer.from([0x7b, 0xff, 0x7d]);
  assert.throws(() => parseChildMessage(invalidUtf8), { code: 'protocol_violation' });
});

test('the frame budget trips on a flood, not on a steady busy agent', () => {
  const flood = new FrameBudget();
  let tripped = -1;
  for (let i = 0; i < 100_000; i++) {
    if (!flood.take(20)) {
      tripped = i;
      break;
    }
  }
  assert.ok(tripped > 0 && tripped <= 25_000, `tripped at ${tripped}`);
  const volume = new FrameBudget();
  let ok = true;
  for (let i = 0; i < 80 && ok; i++) ok = volume.take(8 * 1024 * 1024);
  assert.equal(ok, false, '640 MiB of valid frames at once is over the volume budget');
  const busy = new FrameBudget();
  for (let i = 0; i < 5000; i++) assert.ok(busy.take(200));
});
