/**
 * One hostile agent for the thread-isolation containment tests: its input names which globals to
 * tamper with (`tampers`, applied in order) and then what to do across the boundary (`action`).
 * The named tests pick one combination each; the randomised test draws them with a fixed seed.
 */
import assert from 'node:assert/strict';
import { digestOf } from '../../src/tools/audit-args.js';
import type { TestGateway } from '../helpers/gateway.js';

export const TAMPERS = {
  stringify: `JSON.stringify = () => '{';`,
  parse: `JSON.parse = () => { throw new Error('parse hijacked'); };`,
  arrays: `for (const k of ['map', 'push', 'slice', 'indexOf', 'splice', 'join', 'forEach', 'concat', 'filter']) Array.prototype[k] = function () { throw new Error(k + ' hijacked'); };`,
  // Getters and setters on names the bridge and the prelude read or write (options, results, errors, indexes).
  getters: `for (const k of ['copy', 'promise', 'result', 'reference', 'arguments', 'timeout', 'externalCopy', 'message', 'code', 'ok', 'error', 'outputJson', 'clock', 'clockOverflow', '0', '1']) Object.defineProperty(Object.prototype, k, { get() { throw new Error('getter ' + k); }, set(v) { throw new Error('setter ' + k); }, configurable: true });`,
  // Every object becomes a thenable whose then throws: each await of an object, and the runner's reply, trip on it.
  thenGetter: `Object.defineProperty(Object.prototype, 'then', { get() { throw new Error('then getter'); }, configurable: true });`,
  toPrimitive: `Object.prototype[Symbol.toPrimitive] = function () { throw new Error('toPrimitive'); }; Object.prototype.toString = function () { throw new Error('toString'); }; String.prototype.toString = function () { throw new Error('toString'); };`,
  promiseThen: `{ const t = Promise.prototype.then; Promise.prototype.then = function (a, b) { return t.call(this, (v) => (typeof a === 'function' ? a(typeof v === 'string' ? '{' : v) : v), b); }; }`,
  promiseCtor: `Object.defineProperty(Promise.prototype, 'constructor', { get() { return function () {}; }, configurable: true });`,
  globals: `globalThis.String = () => { throw new Error('String hijacked'); }; Reflect.apply = () => { throw new Error('apply hijacked'); }; Object.freeze = () => { throw new Error('freeze hijacked'); }; Function.prototype.call = function () { throw new Error('call hijacked'); }; Function.prototype.bind = function () { throw new Error('bind hijacked'); }; Object.defineProperty = () => { throw new Error('defineProperty hijacked'); };`,
  toJSON: `Object.prototype.toJSON = function () { throw new Error('toJSON hijacked'); };`,
  // The prelude's own reply object passes through JSON.stringify too: forge it (bad clock, deep shape).
  forgeReply: `Object.defineProperty(Object.prototype, 'toJSON', { value: function () { return this && Object.prototype.hasOwnProperty.call(this, 'outputJson') ? { outputJson: '{"forged":true}', clock: ['not a number'] } : this; }, configurable: true, writable: true });`,
  forgeDeepReply: `Object.defineProperty(Object.prototype, 'toJSON', { value: function () { if (!(this && Object.prototype.hasOwnProperty.call(this, 'outputJson'))) return this; let v = 0; for (let i = 0; i < 3000; i++) v = [v]; return { outputJson: 'null', clock: [], x: v }; }, configurable: true, writable: true });`,
} as const;

const deep = (n: number) => `(() => { let v = 0; for (let i = 0; i < ${n}; i++) v = [v]; return v; })()`;

export const ACTIONS = {
  call: `const r = await ctx.tools.call('test.echo', { a: [1, 2, 3], s: 'x' }); return { ok: r.ok, echoed: r.result };`,
  callTime: `const r = await ctx.tools.call('system.time', {}); return { ok: r.ok };`,
  model: `try { await ctx.model.chat({ messages: [{ role: 'user', content: 'hi' }] }); return { model: 'answered' }; } catch (e) { return { modelError: typeof e.code }; }`,
  log: `ctx.log('hello', { a: 1 }); ctx.log.warn({ toString() { throw new Error('x'); } }, { toJSON() { throw new Error('y'); } }); ctx.log.error(Symbol('s'), 1n); return 'logged';`,
  logHuge: `const f = { s: 'f'.repeat(8 * 1024 * 1024) }; for (let i = 0; i < 20; i++) ctx.log.info('m'.repeat(100000), f); return 'logged';`,
  logDeep: `ctx.log('deep', ${deep(1000)}); return 'logged';`,
  args5MB: `return await ctx.tools.call('test.echo', { s: 'x'.repeat(5000000 - 8) });`,
  args5MiBPlus1: `return await ctx.tools.call('test.echo', { s: 'x'.repeat(5 * 1024 * 1024 + 1 - 8) });`,
  argsAtLimit: `return await ctx.tools.call('test.echo', { s: 'x'.repeat(4 * 1024 * 1024 - 8) });`,
  argsDeep100k: `try { return await ctx.tools.call('test.echo', ${deep(100000)}); } catch (e) { return { caught: e instanceof RangeError ? 'RangeError' : 'other' }; }`,
  argsDeep1000: `return await ctx.tools.call('test.echo', ${deep(1000)});`,
  argsCyclic: `const o = { a: 1 }; o.self = o; try { return await ctx.tools.call('test.echo', o); } catch (e) { return { caught: e instanceof TypeError ? 'TypeError' : 'other' }; }`,
  argsBigInt: `try { return await ctx.tools.call('test.echo', { n: 10n }); } catch (e) { return { caught: e instanceof TypeError ? 'TypeError' : 'other' }; }`,
  argsProxy: `try { return await ctx.tools.call('test.echo', new Proxy({}, { ownKeys() { throw new Error('trap'); }, get() { throw new Error('trap'); } })); } catch (e) { return { caught: 'trap' }; }`,
  nameObject: `try { return await ctx.tools.call({ toString() { return 'test.echo'; } }, {}); } catch (e) { return { caught: e instanceof TypeError ? 'TypeError' : 'other' }; }`,
  calls10k: `const rs = await Promise.all(Array.from({ length: 10000 }, (_, i) => ctx.tools.call('test.echo', { i }))); const codes = {}; for (const r of rs) { const k = r.ok ? 'ok' : r.error.code; codes[k] = (codes[k] || 0) + 1; } return codes;`,
  returnPlain: `return { fine: true, list: [1, 2] };`,
  returnDeep1000: `return ${deep(1000)};`,
  returnDeep100k: `return ${deep(100000)};`,
  returnCyclic: `const o = {}; o.o = o; return o;`,
  returnBigInt: `return { n: 1n };`,
  returnToJSONThrows: `return { toJSON() { throw new Error('toJSON says no'); } };`,
  returnToJSONProxy: `return { toJSON() { throw new Proxy({}, { get() { throw new Error('trap'); } }); } };`,
  throwProxy: `throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); }, has() { throw new Error('trap'); } });`,
  throwGetter: `throw { get message() { throw new Error('no message for you'); }, get code() { throw new Error('no code'); } };`,
  throwSymbol: `throw Symbol('thrown symbol');`,
  throwHuge: `throw new Error('m'.repeat(1 << 20));`,
  throwNull: `throw null;`,
} as const;

export type Tamper = keyof typeof TAMPERS;
export type Action = keyof typeof ACTIONS;

/** The agent module: applies `input.tampers`, then runs `input.action`. */
export const HOSTILE_AGENT = `
const T = { ${Object.entries(TAMPERS).map(([k, v]) => `${k}: () => { ${v} }`).join(',\n  ')} };
const A = { ${Object.entries(ACTIONS).map(([k, v]) => `${k}: async (ctx) => { ${v} }`).join(',\n  ')} };
export default async function (input, ctx) {
  const tampers = input.tampers;
  const action = A[input.action];
  for (let i = 0; i < tampers.length; i++) T[tampers[i]]();
  return await action(ctx);
}
`;

/** The test tool the hostile agent calls: echoes small arguments, reports the size of large ones. */
export function registerEcho(g: TestGateway): void {
  g.gw.tools.register({
    name: 'test.echo',
    description: 'echo (test)',
    args: { safeParse: (v: unknown) => ({ success: true, data: v }) } as never,
    // Bulk data, as the audit keeps it: its size and digest.
    audit: (args: unknown) => digestOf(JSON.stringify(args)),
    execute: async (args: unknown) => {
      const bytes = JSON.stringify(args).length;
      return bytes <= 4096 ? args : { bytes };
    },
  });
}

/** Unhandled rejections and uncaught exceptions seen in this (the gateway's) process. */
export function watchUnhandled(): { events: string[]; stop(): void } {
  const events: string[] = [];
  const onRejection = (r: unknown) => events.push(`unhandledRejection: ${r instanceof Error ? r.message : String(r)}`);
  const onException = (e: Error) => events.push(`uncaughtException: ${e.message}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return { events, stop: () => (process.off('unhandledRejection', onRejection), process.off('uncaughtException', onException)) };
}

export const TERMINAL = ['succeeded', 'failed', 'timed_out', 'killed'];

/** After every hostile run: a clear final state with a stable code, the gateway answering, nothing unhandled. */
export async function assertContained(g: TestGateway, run: { state: string; error: { code: string; message: string } | null; runId: string }, unhandled: string[], what: string): Promise<void> {
  assert.ok(TERMINAL.includes(run.state), `${what}: final state ${run.state}`);
  if (run.state === 'succeeded') assert.equal(run.error, null, what);
  else {
    assert.match(run.error!.code, /^[a-z][a-z_]*$/, `${what}: a stable error code (${JSON.stringify(run.error)})`);
    assert.equal(typeof run.error!.message, 'string', what);
  }
  const stored = await g.call('GET', `/v1/runs/${run.runId}`);
  assert.equal(stored.json.state, run.state, `${what}: the stored record agrees`);
  assert.equal((await g.call('GET', '/healthz')).status, 200, `${what}: /healthz`);
  assert.deepEqual(unhandled, [], `${what}: nothing unhandled in the gateway process`);
}
