/**
 * The policy decides before the path guard answers: an agent that may not touch a path learns the
 * same "denied" whether something exists there or not, and a path the guard refuses is refused by the
 * guard only after the policy allowed the call (its tool.result names the guard's code).
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readEvents } from '../../src/audit/index.js';
import { mulberry32 } from '../helpers/prng.js';
import { type TestGateway, startGateway, tempDir, waitFor, writeAgent } from '../helpers/gateway.js';

const AGENT = `export default async (input, ctx) => {
  const out = [];
  for (const [tool, args] of input.calls) { const r = await ctx.tools.call(tool, args); out.push(r.ok ? 'ok' : r.error.code + ': ' + r.error.message); }
  return out;
}`;

let g: TestGateway;
let ws = '';

before(async () => {
  const root = tempDir('cg-order-');
  ws = join(root, 'ws');
  for (const d of ['pub', 'priv/sub']) mkdirSync(join(ws, d), { recursive: true });
  writeFileSync(join(ws, 'pub', 'a.txt'), 'public');
  writeFileSync(join(ws, 'priv', 'exists.txt'), 'private');
  symlinkSync('/etc/hostname', join(ws, 'pub', 'away'));
  symlinkSync('/nonexistent-target', join(ws, 'pub', 'dangling'));
  g = await startGateway({
    sandbox: { mode: 'strict', fileAccess: { allowedPaths: [ws] } },
    agents: { a: { entry: writeAgent(root, 'agent.js', AGENT), workspace: ws, tools: { allow: [{ tool: 'fs.*', paths: ['pub/**'] }] } } },
  });
});
after(async () => g?.close());

const run = async (calls: Array<[string, unknown]>) => {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'a', input: { calls } });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  return { out: r.json.output as string[], runId: r.json.runId as string };
};

test('outside what the policy allows, existing and missing paths get the same answer (fixed-seed spellings)', async () => {
  const rnd = mulberry32(5);
  const names = ['exists.txt', 'missing.txt', 'sub', 'sub/missing/../x', 'nope/deeper/file', '../outside', '../../etc/passwd'];
  const calls: Array<[string, unknown]> = [];
  for (let i = 0; i < 40; i++) {
    const n = names[Math.floor(rnd() * names.length)]!;
    const tool = ['fs.read', 'fs.stat', 'fs.list', 'fs.write'][Math.floor(rnd() * 4)]!;
    const spelled = [`priv/${n}`, `${ws}/priv/${n}`, `file://${ws}/priv/${n}`, `./priv//${n}`][Math.floor(rnd() * 4)]!;
    calls.push([tool, tool === 'fs.write' ? { path: spelled, content: 'x' } : { path: spelled }]);
  }
  const { out } = await run(calls);
  for (const [i, o] of out.entries()) {
    assert.match(o, /^denied: /, `${JSON.stringify(calls[i])}: ${o}`);
    assert.ok(!/exist|not found|ENOENT|directory/i.test(o.replace(/^denied: [^:]+:/, '')), `the answer says nothing about what is there: ${o}`);
  }
});

test('a path the guard refuses is refused by the guard after the policy allowed it; the outcome is recorded with its code', async () => {
  const { out, runId } = await run([['fs.read', { path: 'pub/away' }], ['fs.read', { path: 'pub/dangling' }], ['fs.read', { path: 'pub/a.txt' }]]);
  assert.match(out[0]!, /^path_blocked: /);
  assert.match(out[1]!, /^path_blocked: /);
  assert.equal(out[2], 'ok');
  // A link to an existing and to a missing target outside give the same message.
  assert.equal(out[0]!.replace('away', 'X'), out[1]!.replace('dangling', 'X'));
  await waitFor(() => readEvents(g.gw.auditLog.database!, { runId }).some((e) => e.type === 'run.end'));
  const ev = readEvents(g.gw.auditLog.database!, { runId });
  const decisions = ev.filter((e) => e.type === 'tool.decision');
  const results = ev.filter((e) => e.type === 'tool.result');
  assert.deepEqual(decisions.map((e) => e.decision), ['allow', 'allow', 'allow']);
  assert.deepEqual(results.map((e) => [e.payload!.ok, e.payload!.code ?? null, e.payload!.decisionSeq]), [[false, 'path_blocked', decisions[0]!.seq], [false, 'path_blocked', decisions[1]!.seq], [true, null, decisions[2]!.seq]]);
  assert.deepEqual(decisions[0]!.payload!.args, { path: `${ws}/pub/away`, requested: 'pub/away' });
  assert.deepEqual(decisions[2]!.payload!.args, { path: `${ws}/pub/a.txt` });
});

test('an agent cannot smuggle the internal "requested" field into a call', async () => {
  const { out } = await run([['fs.read', { path: 'pub/a.txt', requested: '/etc/passwd' }]]);
  assert.match(out[0]!, /^bad_request: /);
});
