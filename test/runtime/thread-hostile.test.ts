/**
 * Containment of thread isolation (issue 12, route 1): agent code that tampers with its globals or
 * hands the bridge hostile values fails its own call or its own run, never the gateway. The
 * gateway runs in this process, so an unhandled rejection at a crossing is seen here directly.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { type Action, type Tamper, HOSTILE_AGENT, assertContained, registerEcho, watchUnhandled } from './thread-attacks.js';

const dir = tempDir('cg-hostile-');
const entry = writeAgent(dir, 'hostile.js', HOSTILE_AGENT);
const logLines: Array<Record<string, any>> = [];
let g: TestGateway;
const unhandled = watchUnhandled();

before(async () => {
  const base = { entry, tools: { allow: ['system.time', 'test.echo'] }, warmPool: 0, memoryMb: 128 };
  g = await startGateway(
    {
      agents: {
        hostile: { ...base, timeout: 3 },
        det: { ...base, timeout: 3, deterministic: true },
        many: { ...base, timeout: 120 },
      },
    },
    { extraTools: ['test.echo'], logLines },
  );
  registerEcho(g);
});
after(async () => {
  await g?.close();
  unhandled.stop();
});
afterEach(() => assert.deepEqual(unhandled.events.splice(0), [], 'nothing unhandled in the gateway process'));

async function attack(tampers: Tamper[], action: Action, profile = 'hostile') {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile, input: { tampers, action } });
  assert.equal(r.status, 200, r.text);
  await assertContained(g, r.json, unhandled.events, `${tampers.join('+') || 'no tamper'} / ${action}`);
  return r.json as { runId: string; state: string; output: any; error: { code: string; message: string } | null; reason?: string };
}

describe('replaced globals do not reach the bridge', () => {
  test('JSON.stringify = () => "{" then tools.call: the call goes through with the real arguments (the crash of issue 12)', async () => {
    const r = await attack(['stringify'], 'call');
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
    assert.deepEqual(r.output, { ok: true, echoed: { a: [1, 2, 3], s: 'x' } });
  });

  test('replaced JSON.parse, Array.prototype methods, Object.prototype getters/setters: calls, logs and the result still cross', async () => {
    for (const t of ['parse', 'arrays', 'getters'] as Tamper[]) {
      const r = await attack([t], 'call');
      assert.equal(r.state, 'succeeded', `${t}: ${JSON.stringify(r.error)}`);
      assert.deepEqual(r.output, { ok: true, echoed: { a: [1, 2, 3], s: 'x' } }, t);
      const l = await attack([t], 'log');
      assert.equal(l.state, 'succeeded', `${t} log: ${JSON.stringify(l.error)}`);
    }
    const all = await attack(['stringify', 'parse', 'arrays', 'getters', 'globals'], 'callTime');
    assert.equal(all.state, 'succeeded', JSON.stringify(all.error));
    // A model call crosses the same way: no model is configured, so the agent sees a coded error.
    const m = await attack(['stringify', 'parse', 'arrays'], 'model');
    assert.deepEqual(m.output, { modelError: 'string' }, JSON.stringify(m));
  });

  test('String, Reflect.apply, Object.freeze, Function.prototype.call/bind and Object.defineProperty replaced: the prelude kept its own', async () => {
    const r = await attack(['globals'], 'call');
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
    assert.deepEqual(r.output.echoed, { a: [1, 2, 3], s: 'x' });
    assert.equal((await attack(['globals'], 'log')).state, 'succeeded');
  });

  test('Symbol.toPrimitive / toString that throw: a log message that cannot be text is replaced, the run goes on', async () => {
    const before = logLines.length;
    const r = await attack(['toPrimitive'], 'log');
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
    const mine = logLines.slice(before).filter((l) => l.runId === r.runId && l.agent === true);
    assert.ok(mine.some((l) => l.msg === '[a log message that cannot be turned into text]'), JSON.stringify(mine));
    assert.ok(mine.some((l) => l.fields?.cut === true), 'unserialisable fields are marked');
  });

  test('Promise.prototype.then and the promise constructor hijacked: a clear final state', async () => {
    for (const t of ['promiseThen', 'promiseCtor'] as Tamper[]) {
      for (const a of ['call', 'returnPlain', 'throwProxy'] as Action[]) await attack([t], a);
    }
  });

  test('every object made a thenable whose then throws: the run fails as bad_agent_data or agent_error', async () => {
    const r = await attack(['thenGetter'], 'returnPlain');
    assert.equal(r.state, 'failed');
    assert.ok(['bad_agent_data', 'agent_error'].includes(r.error!.code), JSON.stringify(r.error));
  });

  test("a forged reply (toJSON on the prelude's own reply object: a bad clock record, a deep shape) fails the run as bad_agent_data", async () => {
    for (const t of ['forgeReply', 'forgeDeepReply'] as Tamper[]) {
      const r = await attack([t], 'returnPlain', 'det');
      assert.equal(r.state, 'failed', t);
      assert.equal(r.error!.code, 'bad_agent_data', `${t}: ${JSON.stringify(r.error)}`);
    }
  });

  test('a deterministic run with Array.prototype index setters still records its clock and replays the same', async () => {
    const r = await attack(['getters', 'arrays'], 'callTime', 'det');
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
    const rep = await g.call('POST', `/v1/runs/${r.runId}/replay`);
    assert.equal(rep.json.same, true, rep.text);
  });
});

describe('hostile values at the crossings', () => {
  test('arguments over 4 MiB (5 MB, 5 MiB + 1) are an error result the agent sees; just under the limit passes', async () => {
    for (const a of ['args5MB', 'args5MiBPlus1'] as Action[]) {
      const r = await attack([], a);
      assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
      assert.equal(r.output.ok, false);
      assert.equal(r.output.error.code, 'bad_agent_data', a);
      assert.match(r.output.error.message, /over the 4194304-byte limit/);
    }
    const ok = await attack([], 'argsAtLimit');
    assert.equal(ok.state, 'succeeded', JSON.stringify(ok.error));
    assert.equal(ok.output.ok, true, JSON.stringify(ok.output).slice(0, 300));
    assert.equal(ok.output.result.bytes, 4 * 1024 * 1024);
  });

  test('deep nesting: 100k levels never leave the isolate, 1000 levels are refused at the crossing', async () => {
    const d = await attack([], 'argsDeep100k');
    assert.deepEqual(d.output, { caught: 'RangeError' });
    const e = await attack([], 'argsDeep1000');
    assert.equal(e.output.error.code, 'bad_agent_data');
    assert.match(e.output.error.message, /nested deeper than 100 levels/);
    const before = logLines.length;
    const l = await attack([], 'logDeep');
    assert.equal(l.state, 'succeeded');
    const line = logLines.slice(before).find((x) => x.runId === l.runId && x.msg === 'deep');
    assert.equal(line?.fields?.cut, true, JSON.stringify(line));
    const out = await attack([], 'returnDeep1000');
    assert.equal(out.state, 'failed');
    assert.equal(out.error!.code, 'bad_agent_data');
    const out2 = await attack([], 'returnDeep100k');
    assert.equal(out2.state, 'failed');
    assert.equal(out2.error!.code, 'output_invalid');
  });

  test('cyclic, BigInt and Proxy arguments fail in the agent, where it can catch them; a tool name that is an object is refused', async () => {
    assert.deepEqual((await attack([], 'argsCyclic')).output, { caught: 'TypeError' });
    assert.deepEqual((await attack([], 'argsBigInt')).output, { caught: 'TypeError' });
    assert.deepEqual((await attack([], 'argsProxy')).output, { caught: 'trap' });
    assert.deepEqual((await attack([], 'nameObject')).output, { caught: 'TypeError' });
  });

  test('results that cannot be serialised fail the run as output_invalid', async () => {
    for (const a of ['returnCyclic', 'returnBigInt', 'returnToJSONThrows', 'returnToJSONProxy'] as Action[]) {
      const r = await attack([], a);
      assert.equal(r.state, 'failed', a);
      assert.equal(r.error!.code, 'output_invalid', `${a}: ${JSON.stringify(r.error)}`);
    }
    const r = await attack(['toJSON'], 'returnPlain');
    assert.equal(r.error!.code, 'output_invalid', 'Object.prototype.toJSON that throws');
  });

  test('thrown Proxy, getter that throws on message, Symbol, null, a 1 MiB message: failed with a readable, capped message', async () => {
    const p = await attack([], 'throwProxy');
    assert.equal(p.state, 'failed');
    assert.equal(p.error!.code, 'agent_error');
    assert.equal(p.error!.message, 'the agent threw a value that cannot be read');
    const gt = await attack([], 'throwGetter');
    assert.equal(gt.error!.message, 'the agent threw a value that cannot be read');
    assert.equal(gt.error!.code, 'agent_error');
    assert.equal((await attack([], 'throwSymbol')).error!.message, 'Symbol(thrown symbol)');
    assert.equal((await attack([], 'throwNull')).error!.message, 'null');
    const h = await attack([], 'throwHuge');
    assert.ok(h.error!.message.length <= 8 * 1024 + 10, `message of ${h.error!.message.length} characters`);
    assert.match(h.error!.message, /…\[cut\]$/);
  });

  test('log lines are capped at the crossing: 20 lines with 8 MiB fields are written as markers under 20 KiB each', async () => {
    const before = logLines.length;
    const r = await attack([], 'logHuge');
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
    const mine = logLines.slice(before).filter((l) => l.runId === r.runId && l.agent === true);
    assert.equal(mine.length, 20);
    for (const l of mine) {
      assert.equal(l.fields.cut, true);
      assert.ok(JSON.stringify(l).length < 20 * 1024, `a log line of ${JSON.stringify(l).length} bytes`);
      assert.ok(l.msg.length <= 4096 + 10);
    }
  });

  test('10k concurrent calls: every one answered, the run succeeds', async () => {
    const r = await attack([], 'calls10k', 'many');
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error));
    const total = Object.values(r.output as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(total, 10000);
    assert.equal(r.output.ok, 10000, JSON.stringify(r.output));
  });
});
