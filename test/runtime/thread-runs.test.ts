import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, waitFor, writeAgent } from '../helpers/gateway.js';

const dir = tempDir('cg-agents-');
const A = (name: string, code: string) => writeAgent(dir, name, code);

const agents = {
  hello: A('hello.js', `export default async function (input, ctx) { return { hi: input.name, runId: ctx.runId, profile: ctx.profile }; }`),
  spin: A('spin.js', `export default async function () { while (true) {} }`),
  spinAfterAwait: A('spin2.js', `export default async function (i, ctx) { await ctx.tools.call('system.time', {}); for (;;) {} }`),
  bomb: A('bomb.js', `export default async function () { const a = []; for (;;) a.push(new Array(100000).fill('x' + a.length)); }`),
  crash: A('crash.js', `export default async function () { throw new TypeError('agent blew up'); }`),
  staticImport: A('static-import.js', `import fs from 'node:fs'; export default async function () { return fs.readFileSync('/etc/passwd', 'utf8'); }`),
  escapes: A('escapes.js', `export default async function () {
    const r = {};
    try { await import('node:fs'); r.dynamicImport = 'OPENED'; } catch (e) { r.dynamicImport = 'failed: ' + e.message; }
    try { r.require = typeof require === 'function' ? require('fs') && 'OPENED' : 'no require'; } catch (e) { r.require = 'failed'; }
    try { r.binding = process.binding('fs') ? 'OPENED' : 'no'; } catch (e) { r.binding = 'failed: ' + e.message; }
    try { r.socket = typeof WebSocket !== 'undefined' || typeof fetch !== 'undefined' || typeof XMLHttpRequest !== 'undefined' ? 'HAS NETWORK API' : 'no network API'; } catch (e) { r.socket = 'failed'; }
    try { r.globalThisKeys = Object.getOwnPropertyNames(globalThis).filter((k) => /^(process|require|module|Buffer|setTimeout|fetch|__cg)$/.test(k)); } catch (e) {}
    try { r.fnCtor = (function(){}).constructor('return typeof process')(); } catch (e) { r.fnCtor = 'failed'; }
    return r;
  }`),
  big: A('big.js', `export default async function () { return 'x'.repeat(5000); }`),
  keeper: A('keeper.js', `let kept; export default async function (input, ctx) { globalThis.kept = ctx; return 'ok'; }`),
  leak: A('leak.js', `export default async function (input, ctx) { globalThis.counter = (globalThis.counter || 0) + 1; return globalThis.counter; }`),
  det: A('det.js', `export default async function (input, ctx) {
    const t = await ctx.tools.call('system.time', {});
    const r = Math.random();
    const d = Date.now();
    return { sawTime: t.ok, r, d, n: input.n };
  }`),
  nondet: A('nondet.js', `export default async function (input, ctx) {
    if (globalThis.__flip === undefined) globalThis.__flip = 0;
    const t = await ctx.tools.call('system.time', {});
    return { ok: t.ok };
  }`),
  denied: A('denied.js', `export default async function (input, ctx) { return [await ctx.tools.call('exec.run', { argv: ['/bin/sh'] }), await ctx.tools.call('no.such.tool', {})]; }`),
  slow: A('slow.js', `export default async function (input, ctx) { const t0 = Date.now(); while (Date.now() - t0 < (input && input.ms || 50)) {} return 'done'; }`),
};

let g: TestGateway;
before(async () => {
  g = await startGateway({
    agents: {
      hello: { entry: agents.hello, tools: { allow: ['system.time'] } },
      spin: { entry: agents.spin, timeout: 1 },
      spin2: { entry: agents.spinAfterAwait, timeout: 1, tools: { allow: ['system.time'] } },
      bomb: { entry: agents.bomb, memoryMb: 32, timeout: 20 },
      crash: { entry: agents.crash },
      staticImport: { entry: agents.staticImport },
      escapes: { entry: agents.escapes },
      big: { entry: agents.big, maxOutputBytes: 1000 },
      keeper: { entry: agents.keeper, tools: { allow: ['system.time'] } },
      leak: { entry: agents.leak },
      det: { entry: agents.det, deterministic: true, tools: { allow: ['system.time'] } },
      denied: { entry: agents.denied, tools: { allow: ['system.time'] } },
      missing: { entry: `${dir}/does-not-exist.js` },
      capped: { entry: agents.slow, 'max-concurrent': 2, queueLimit: 500, warmPool: 2 },
      busy: { entry: agents.slow, memoryMb: 32 },
      tiny: { entry: agents.slow, 'max-concurrent': 1, queueLimit: 1, warmPool: 0 },
      sess: { entry: agents.leak, runtime: 'session', session: { idleTimeout: 1 } },
    },
  });
});
after(async () => {
  await g?.close();
});

const run = async (profile: string, input: unknown = null, extra: Record<string, unknown> = {}) => {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile, input, ...extra });
  assert.equal(r.status, 200, r.text);
  return r.json;
};

describe('thread isolation (fresh isolate per run)', () => {
  test('a trivial run succeeds with the documented fields', async () => {
    const r = await run('hello', { name: 'ada' });
    assert.equal(r.state, 'succeeded');
    assert.equal(r.output.hi, 'ada');
    assert.equal(r.output.runId, r.runId);
    assert.equal(r.output.profile, 'hello');
    assert.match(r.runId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'UUIDv7');
    for (const k of ['profile', 'state', 'output', 'error', 'startedAt', 'endedAt', 'durationMs']) assert.ok(k in r, k);
    assert.equal(r.error, null);
    const again = await g.call('GET', `/v1/runs/${r.runId}`);
    assert.deepEqual(again.json, r);
  });

  test('202 then GET: the run is stored', async () => {
    const r = await g.call('POST', '/v1/runs', { profile: 'hello', input: { name: 'x' } });
    assert.equal(r.status, 202);
    assert.equal(r.headers.location, `/v1/runs/${r.json.runId}`);
    await waitFor(async () => (await g.call('GET', `/v1/runs/${r.json.runId}`)).json.state === 'succeeded');
    const list = await g.call('GET', '/v1/runs?profile=hello&state=succeeded');
    assert.ok(list.json.runs.some((x: { runId: string }) => x.runId === r.json.runId));
  });

  test('while(true) is killed at the timeout (+1 s at most) as timed_out', async () => {
    const t0 = Date.now();
    const r = await run('spin');
    const took = Date.now() - t0;
    assert.equal(r.state, 'timed_out');
    assert.equal(r.error.code, 'timeout');
    assert.ok(took < 2000 + 500, `took ${took} ms`);
    const r2 = await run('spin2');
    assert.equal(r2.state, 'timed_out', 'a loop after an await is killed too');
  });

  test('a memory bomb ends as killed with reason memory_limit; the gateway stays healthy', async () => {
    const r = await run('bomb');
    assert.equal(r.state, 'killed');
    assert.equal(r.reason, 'memory_limit');
    assert.equal(r.error.code, 'memory_limit');
    assert.equal((await g.call('GET', '/healthz')).status, 200);
    assert.equal((await run('hello', { name: 'after' })).state, 'succeeded');
  });

  test('a busy loop on Date.now() is not a memory bomb (the clock is recorded only for deterministic runs)', async () => {
    const r = await run('busy', { ms: 1500 });
    assert.equal(r.state, 'succeeded', JSON.stringify(r));
  });

  test('a crash ends as failed with the error', async () => {
    const r = await run('crash');
    assert.equal(r.state, 'failed');
    assert.equal(r.error.message, 'agent blew up');
  });

  test('agent code cannot import node:fs, require, process.binding or open a socket', async () => {
    const s = await run('staticImport');
    assert.equal(s.state, 'failed');
    assert.equal(s.error.code, 'agent_load_failed');
    assert.match(s.error.message, /import of "node:fs" is not available/);
    const e = await run('escapes');
    assert.equal(e.state, 'succeeded');
    assert.match(e.output.dynamicImport, /^failed/);
    assert.equal(e.output.require, 'no require');
    assert.match(e.output.binding, /^failed/);
    assert.equal(e.output.socket, 'no network API');
    assert.deepEqual(e.output.globalThisKeys, []);
    assert.equal(e.output.fnCtor, 'undefined', 'Function constructor reaches only the isolate');
  });

  test('output over the cap is cut and flagged', async () => {
    const r = await run('big');
    assert.equal(r.state, 'succeeded');
    assert.equal(r.outputTruncated, true);
    assert.equal(typeof r.output, 'string');
    assert.ok(Buffer.byteLength(r.output) <= 1000);
  });

  test('a missing agent module fails the run with a clear error, not the gateway', async () => {
    const r = await run('missing');
    assert.equal(r.state, 'failed');
    assert.equal(r.error.code, 'agent_module_not_found');
    assert.match(r.error.message, /does-not-exist\.js cannot be read: ENOENT/);
  });

  test('instances are never reused: module state does not survive between runs', async () => {
    const a = await run('leak');
    const b = await run('leak');
    assert.equal(a.output, 1);
    assert.equal(b.output, 1);
  });

  test('session-bound: one instance per key, reused only for that key', async () => {
    const s1 = await run('sess', null, { sessionKey: 'k1' });
    const s2 = await run('sess', null, { sessionKey: 'k1' });
    const s3 = await run('sess', null, { sessionKey: 'k2' });
    assert.deepEqual([s1.output, s2.output, s3.output], [1, 2, 1]);
    const noKey = await g.call('POST', '/v1/runs?wait=1', { profile: 'sess' });
    assert.equal(noKey.status, 400);
    // idle timeout (1 s) destroys the instance: the next run starts fresh
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal((await run('sess', null, { sessionKey: 'k1' })).output, 1);
  });

  test('a tool not in tools.allow is denied with a stable code; the run goes on', async () => {
    const r = await run('denied');
    assert.equal(r.state, 'succeeded');
    assert.equal(r.output[0].ok, false);
    assert.equal(r.output[0].error.code, 'denied');
    assert.match(r.output[0].error.message, /exec\.run/);
    assert.equal(r.output[1].error.code, 'tool_not_found');
  });

  test('no instance is left alive after its run (warm pool and live sessions aside)', async () => {
    await Promise.all(Array.from({ length: 10 }, () => run('hello', { name: 'n' })));
    await waitFor(() => {
      const c = g.gw.runs.instanceCounts();
      return c.live.thread === c.idle.thread;
    });
    assert.ok(g.gw.runs.instanceCounts().live.thread > 0, 'the warm pool holds never-used instances');
  });

  test('deterministic runs replay with the same calls in the same order', async () => {
    const r = await run('det', { n: 7 });
    assert.equal(r.state, 'succeeded');
    const rep = await g.call('POST', `/v1/runs/${r.runId}/replay`);
    assert.equal(rep.status, 200, rep.text);
    assert.equal(rep.json.same, true, JSON.stringify(rep.json));
    assert.equal(rep.json.recordedCalls, 1);
    const notDet = await run('hello', { name: 'x' });
    assert.equal((await g.call('POST', `/v1/runs/${notDet.runId}/replay`)).json.error.code, 'conflict');
  });

  test('replay detects divergence when the recorded calls differ', async () => {
    const r = await run('det', { n: 1 });
    // Tamper with the stored record: the replayed agent now makes a call the record does not have.
    const rec = g.gw.store.runs.getRecording(r.runId)!;
    rec.calls[0]!.name = 'model.chat';
    g.gw.store.runs.saveRecording(r.runId, rec);
    const rep = await g.call('POST', `/v1/runs/${r.runId}/replay`);
    assert.equal(rep.json.same, false);
    assert.equal(rep.json.divergence.index, 0);
    assert.equal(rep.json.divergence.expected.name, 'model.chat');
    assert.equal(rep.json.divergence.actual.name, 'system.time');
  });

  test('max-concurrent 2 under 200 runs: never more than 2 active', async () => {
    const rt = g.gw.runs.profileRuntime('capped')!;
    let maxSeen = 0;
    const poll = setInterval(() => (maxSeen = Math.max(maxSeen, rt.slots.active)), 1);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await g.call('POST', '/v1/runs', { profile: 'capped', input: { ms: 2 } });
      assert.equal(r.status, 202);
      ids.push(r.json.runId);
    }
    await waitFor(() => rt.slots.active === 0 && rt.slots.queued === 0, 60_000);
    clearInterval(poll);
    assert.ok(rt.slots.peakActive <= 2, `peak ${rt.slots.peakActive}`);
    assert.equal(rt.slots.peakActive, 2, 'the cap was reached');
    assert.ok(maxSeen <= 2);
    const states = new Set((await Promise.all(ids.slice(0, 20).map((id) => g.call('GET', `/v1/runs/${id}`)))).map((r) => r.json.state));
    assert.deepEqual([...states], ['succeeded']);
  });

  test('queue overflow answers 429 with Retry-After', async () => {
    const a = await g.call('POST', '/v1/runs', { profile: 'tiny', input: { ms: 400 } });
    const b = await g.call('POST', '/v1/runs', { profile: 'tiny', input: { ms: 400 } });
    const c = await g.call('POST', '/v1/runs', { profile: 'tiny', input: { ms: 400 } });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.equal(c.status, 429);
    assert.equal(c.json.error.code, 'queue_full');
    assert.ok(Number(c.headers['retry-after']) >= 1);
  });

  test('DELETE kills a running run', async () => {
    const r = await g.call('POST', '/v1/runs', { profile: 'spin' });
    await waitFor(async () => (await g.call('GET', `/v1/runs/${r.json.runId}`)).json.state === 'running');
    const k = await g.call('DELETE', `/v1/runs/${r.json.runId}`);
    assert.equal(k.status, 200);
    assert.equal(k.json.state, 'killed');
    assert.equal(k.json.reason, 'operator');
    // who killed it is in the audit log, beside the run's own end
    const ev = await g.call('GET', `/v1/audit/events?runId=${r.json.runId}`);
    const kill = ev.json.events.find((e: { type: string }) => e.type === 'operator.run.kill');
    assert.ok(kill, JSON.stringify(ev.json.events.map((e: { type: string }) => e.type)));
    assert.equal(kill.action, 'run.kill');
    assert.equal(kill.resource, `run:${r.json.runId}`);
    assert.ok(kill.subject, 'the operator is named');
  });
});
