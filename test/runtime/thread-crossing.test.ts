/**
 * The host-side readers of the isolate crossing (crossing.ts), fed what an agent holding the raw
 * reference could send: wrong types, wrong shapes, oversize and deep values, prototype keys.
 * Each answers data or a bad_agent_data error; the guarded callbacks never throw or reject.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CROSSING_LIMITS, answerCall, checkShape, nestsDeeperThan, guardCallback, guardSyncCallback, readCall, readLog, readRunReply } from '../../src/runtime/crossing.js';
import { mulberry32 } from '../helpers/prng.js';
import { OUTPUT_MARGIN_CHARS } from '../../src/runtime/instance.js';

const badData = { code: 'bad_agent_data' };
const deepJson = (n: number) => '['.repeat(n) + ']'.repeat(n);

test('readCall: kind, name and the boxed arguments are type-checked, size-capped and depth-checked', () => {
  assert.deepEqual(readCall('tool', 'system.time', ['{"a":1}']), { kind: 'tool', name: 'system.time', args: { a: 1 } });
  for (const [k, n, b] of [
    ['exec', 'x', ['{}']], [{ toString: () => 'tool' }, 'x', ['{}']], ['tool', '', ['{}']], ['tool', 'x'.repeat(257), ['{}']],
    ['tool', 5, ['{}']], ['tool', 'x', '{}'], ['tool', 'x', ['{}', '{}']], ['tool', 'x', [{}]], ['tool', 'x', [undefined]],
    ['tool', 'x', ['{']], ['tool', 'x', [deepJson(101)]], ['tool', 'x', ['{"__proto__":{"polluted":1}}']],
    ['tool', 'x', [`"${'x'.repeat(CROSSING_LIMITS.callArgsBytes - 1)}"`]],
    // Multi-byte characters: under the limit in UTF-16 units, over it in UTF-8 bytes.
    ['tool', 'x', [`"${'é'.repeat(CROSSING_LIMITS.callArgsBytes / 2)}"`]],
  ] as Array<[unknown, unknown, unknown]>) assert.throws(() => readCall(k, n, b), badData, JSON.stringify([k, n, typeof b]).slice(0, 80));
  assert.doesNotThrow(() => readCall('tool', 'x', [deepJson(100)]));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('depth: 2 million levels are refused from the text in a few ms; checkShape walks parsed values without recursion', () => {
  const t0 = performance.now();
  assert.throws(() => readCall('tool', 'x', [deepJson(2_000_000)]), { code: 'bad_agent_data', message: /nested deeper than 100/ });
  assert.ok(performance.now() - t0 < 500, `took ${Math.round(performance.now() - t0)} ms`);
  assert.equal(nestsDeeperThan('["[[[[[[", "\\"]', 2), false, 'brackets inside strings and escapes do not count');
  assert.equal(nestsDeeperThan('[[[]]]', 2), true);
  assert.match(checkShape(JSON.parse(deepJson(100_000)))!, /nested deeper than 100/);
  assert.equal(checkShape({ a: [{ b: [1, 2, { c: null }] }] }), undefined);
});

test('readLog never throws: bad levels, non-string messages, oversize and malformed fields become markers', () => {
  assert.deepEqual(readLog(['warn', 'hi', '{"a":1}']), { level: 'warn', msg: 'hi', fields: { a: 1 } });
  assert.equal(readLog(['fatal', 'x', 'null']).level, 'info');
  assert.equal(readLog([Symbol.iterator as unknown as string, 1, 2]).msg, '');
  assert.deepEqual(readLog(undefined), { level: 'info', msg: '', fields: null });
  assert.equal((readLog(['info', 'm', 'x'.repeat(CROSSING_LIMITS.logFieldsBytes + 1)]).fields as { cut: boolean }).cut, true);
  assert.equal((readLog(['info', 'm', '{']).fields as { cut: boolean }).cut, true);
  assert.equal((readLog(['info', 'm', deepJson(500)]).fields as { cut: boolean }).cut, true);
  assert.equal((readLog(['info', 'm', { not: 'text' }]).fields as { cut: boolean }).cut, true);
  assert.ok(readLog(['info', 'm'.repeat(1 << 20), 'null']).msg.length <= CROSSING_LIMITS.logMessageChars + 10);
});

test('readRunReply: the reply shape, the output text, the agent error and the clock record are checked', () => {
  const ok = (o: unknown) => JSON.stringify(o);
  assert.deepEqual(readRunReply([ok({ outputJson: '{"a":1}', clock: [1, 2], clockOverflow: false })], 100), { ok: true, outputJson: '{"a":1}', clock: [1, 2], clockOverflow: false });
  assert.deepEqual(readRunReply([null, 'boom', 'my_code'], 100), { ok: false, message: 'boom', code: 'my_code' });
  assert.equal((readRunReply([null, 'boom', 'not a code!'], 100) as { code?: string }).code, undefined);
  // Past the cap, the text crosses uncut up to the margin (redacted whole later), and no further.
  assert.equal((readRunReply([ok({ outputJson: `"${'x'.repeat(500)}"`, clock: [] })], 100) as { outputJson: string }).outputJson.length, 502, 'within the margin: whole');
  assert.equal((readRunReply([ok({ outputJson: `"${'x'.repeat(OUTPUT_MARGIN_CHARS + 500)}"`, clock: [] })], 100) as { outputJson: string }).outputJson.length, 100 + OUTPUT_MARGIN_CHARS, 'cut at maxOutputBytes + the margin');
  // A text past the cap is not parsed at the crossing (it is kept as text): an invalid one crosses too.
  assert.equal((readRunReply([ok({ outputJson: `{"a": ${'['.repeat(300)}`, clock: [] })], 100) as { ok: boolean }).ok, true);
  for (const reply of [
    undefined, null, 'text', {}, [], [1], [{}], ['{'], ['[]'], ['"s"'], [ok({ clock: [] })], [ok({ outputJson: 5 })],
    [ok({ outputJson: '{' })], [ok({ outputJson: deepJson(200) })], [ok({ outputJson: 'null', clock: 'x' })],
    [ok({ outputJson: 'null', clock: [1, 'x'] })], [ok({ outputJson: 'null', clock: [Number.NaN] })].map((s) => s.replace('null,', 'NaN,')),
    [ok({ outputJson: 'null', clock: new Array(CROSSING_LIMITS.clockEntries + 1).fill(1) })], [null, { message: 'x' }], [null, 'a', 'b', 'c', 'd'], [`{"outputJson":"null","x":${deepJson(1_000_000)}}`],
  ]) assert.throws(() => readRunReply(reply, 10_000), badData, JSON.stringify(reply)?.slice(0, 80));
});

test('answerCall: a host result that cannot be serialised becomes an error result, never an exception', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.deepEqual(JSON.parse(answerCall(cyclic)[0]), { ok: false, error: { code: 'internal', message: 'the call result could not be serialised' } });
  assert.equal(JSON.parse(answerCall({ n: 1n })[0]).ok, false);
  assert.equal(answerCall(undefined)[0], 'null');
});

test('guarded callbacks answer data for every failure, sync or async (random failures, fixed seed)', async () => {
  const rnd = mulberry32(12);
  const throwers: Array<() => unknown> = [
    () => { throw new Error('x'); },
    () => { throw null; },
    () => Promise.reject(Symbol('s')),
    () => { throw new Proxy({}, { get() { throw new Error('trap'); } }); },
    async () => { await null; throw { get message() { throw new Error('no'); } }; },
  ];
  const guarded = guardCallback((i: number) => throwers[i]!(), () => 'answered');
  for (let k = 0; k < 200; k++) assert.equal(await guarded(Math.floor(rnd() * throwers.length)), 'answered');
  const badHandler = guardCallback(() => { throw new Error('x'); }, () => { throw new Error('the handler too'); });
  assert.equal(await badHandler(), undefined);
  const sync = guardSyncCallback(() => { throw new Error('x'); });
  assert.doesNotThrow(() => sync());
});
