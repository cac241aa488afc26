/**
 * A run's ending against a real gateway on its real SQLite file: durable (store and run.end) before
 * the client hears of it; kept and retried when the store refuses it (a full database), shown as not
 * yet durable meanwhile, and stored once the store is back; a kill says what really happened; what
 * the agent hands back (output, error) redacted before it is stored; ctx.log bounded per run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { SqliteDatabase as Database } from '../../src/store/index.js';
import { startGateway, tempDir, type TestGateway, waitFor, writeAgent } from '../helpers/gateway.js';

const V = 'svc-key-9Qw3Er7Ty1Ui5Op0As8Df2Gh6Jk4Lz';
const dir = tempDir('cg-endings-');
let g: TestGateway;
const logLines: any[] = [];
let gate: { open(): void; entered: boolean } = { open: () => undefined, entered: false };
const dbFile = () => join(g.dir, 'state', 'clawguard.db');

function windows(v: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 8 <= v.length; i++) out.push(v.slice(i, i + 8));
  return out;
}
function assertClean(where: string, text: string): void {
  for (const w of windows(V.slice(8))) assert.ok(!text.includes(w), `${where} holds ${w}: ${text.slice(Math.max(0, text.indexOf(w) - 60), text.indexOf(w) + 30)}`);
}

before(async () => {
  g = await startGateway(
    {
      secrets: { svc: { source: 'local', agents: ['leak'], allowedHosts: ['api.example.com'] } },
      agents: {
        // The agent assembles the value from two halves: nothing upstream could have redacted it.
        leak: { entry: writeAgent(dir, 'leak.js', `export default async (i) => { const v = i.a + i.b; if (i.throw) throw new Error('cannot use ' + v); return i.pad ? 'x'.repeat(i.pad) + v + 'y'.repeat(40) : { v, list: [v, { deep: 'k=' + v }] }; };`), warmPool: 0, maxOutputBytes: 4096 },
        chatty: { entry: writeAgent(dir, 'chatty.js', `export default async (i, ctx) => { for (let n = 0; n < i.lines; n++) ctx.log.info('line ' + n, { blob: 'z'.repeat(i.size) }); return 'done'; };`), warmPool: 0, maxLogLines: 50, maxLogBytes: 60_000 },
        gated: { entry: writeAgent(dir, 'gated.js', `export default async (i, ctx) => { const r = await ctx.tools.call('test.gate', {}); return { ok: r.ok, big: 'q'.repeat(i.size) }; };`), warmPool: 0, tools: { allow: ['test.gate'] } },
        leakdet: { entry: writeAgent(dir, 'leakdet.js', `export default async (i) => ({ v: i.a + i.b });`), warmPool: 0, deterministic: true },
        quick: { entry: writeAgent(dir, 'quick.js', `export default async (i) => ({ n: i });`), warmPool: 0 },
      },
    },
    { logLines, extraTools: ['test.gate'] },
  );
  g.gw.tools.register({
    name: 'test.gate',
    description: 'waits until the test opens it (test)',
    args: { safeParse: (v: unknown) => ({ success: true, data: v }) } as never,
    execute: () => new Promise((resolve) => {
      gate.entered = true;
      gate.open = () => resolve('opened');
    }),
  });
  await g.gw.secrets.set('svc', V);
});
after(async () => g?.close());

function rawRun(runId: string): Record<string, unknown> {
  const db = new Database(dbFile(), { readonly: true });
  try {
    return db.prepare('SELECT * FROM runs WHERE run_id = ?').get(runId) as Record<string, unknown>;
  } finally {
    db.close();
  }
}
function runEnds(runId: string): Array<{ seq: number; payload: string }> {
  const db = new Database(dbFile(), { readonly: true });
  try {
    return db.prepare("SELECT seq, payload FROM audit_events WHERE run_id = ? AND type = 'run.end' ORDER BY seq").all(runId) as Array<{ seq: number; payload: string }>;
  } finally {
    db.close();
  }
}

test('output and error messages are redacted before they are stored or served, also where the output is cut inside the value', async () => {
  const half = V.length / 2;
  const input = { a: V.slice(0, half), b: V.slice(half) };
  const ok = await g.call('POST', '/v1/runs?wait=1', { profile: 'leak', input });
  assert.equal(ok.json.state, 'succeeded');
  assert.deepEqual(ok.json.output, { v: '[REDACTED:svc]', list: ['[REDACTED:svc]', { deep: 'k=[REDACTED:svc]' }] });
  const bad = await g.call('POST', '/v1/runs?wait=1', { profile: 'leak', input: { ...input, throw: true } });
  assert.equal(bad.json.state, 'failed');
  assert.equal(bad.json.error.message, 'cannot use [REDACTED:svc]');
  // maxOutputBytes 4096: with the value at every offset around the cut, no part of it survives.
  const cuts: string[] = [];
  for (let pad = 4096 - V.length - 4; pad <= 4096 + 2; pad += 3) {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'leak', input: { ...input, pad } });
    assert.equal(r.json.state, 'succeeded');
    cuts.push(r.json.runId);
    assertClean(`output cut at pad ${pad}`, JSON.stringify(r.json.output));
  }
  for (const id of [ok.json.runId, bad.json.runId, ...cuts]) {
    const row = rawRun(id);
    assertClean(`runs row ${id}`, `${row.output} ${row.error}`);
    const shown = (await g.call('GET', `/v1/runs/${id}`)).json;
    assertClean(`GET ${id}`, JSON.stringify([shown.output, shown.error]));
  }
  assertClean('GET /v1/runs', JSON.stringify((await g.call('GET', '/v1/runs?limit=1000')).json.runs.map((r: any) => [r.output, r.error])));
});

test('a deterministic run whose output held a value replays as the same: the replay is compared with what the run kept', async () => {
  const half = V.length / 2;
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'leakdet', input: { a: V.slice(0, half), b: V.slice(half) } });
  assert.deepEqual(r.json.output, { v: '[REDACTED:svc]' });
  const rep = await g.call('POST', `/v1/runs/${r.json.runId}/replay`);
  assert.equal(rep.json.same, true, rep.text);
  assert.equal(rep.json.outputSame, true);
});

test('ctx.log is bounded per run: lines past the budget are dropped, once noted, and the run record says so', async () => {
  const before = logLines.length;
  // 12 KiB of fields a line (under the 16 KiB a line may carry across): 4 of them fit in 60,000 bytes.
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'chatty', input: { lines: 400, size: 12 * 1024 } });
  assert.equal(r.json.state, 'succeeded', r.text);
  assert.equal(r.json.logsTruncated, true);
  const mine = logLines.slice(before).filter((l) => l.runId === r.json.runId);
  const agentLines = mine.filter((l) => /^line \d+$/.test(l.msg));
  assert.ok(agentLines.length >= 3 && agentLines.length <= 5, `12 KiB lines under a 60,000-byte budget: ${agentLines.length} written`);
  assert.equal(mine.filter((l) => /log budget/.test(l.msg)).length, 1);
  assert.equal(JSON.parse(runEnds(r.json.runId)[0]!.payload).logsTruncated, true);
  // Within budget: everything written, nothing said.
  const small = await g.call('POST', '/v1/runs?wait=1', { profile: 'chatty', input: { lines: 50, size: 10 } });
  assert.equal(small.json.logsTruncated, false);
  assert.equal(logLines.filter((l) => l.runId === small.json.runId && /^line \d+$/.test(l.msg)).length, 50);
  // By lines too: 51 small lines are one too many.
  const lines = await g.call('POST', '/v1/runs?wait=1', { profile: 'chatty', input: { lines: 51, size: 1 } });
  assert.equal(lines.json.logsTruncated, true);
});

test('every run reported ended already has its run.end in the audit log, and the run row names its seq', async () => {
  const ids = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'quick', input: i });
    assert.equal(r.json.state, 'succeeded');
    // Read at once, from another connection, before anything else can happen.
    const ends = runEnds(r.json.runId);
    assert.equal(ends.length, 1, `run.end of ${r.json.runId}`);
    assert.equal(JSON.parse(ends[0]!.payload).state, 'succeeded');
    assert.equal(rawRun(r.json.runId).end_seq, ends[0]!.seq);
    return r.json.runId as string;
  }));
  assert.equal(new Set(ids).size, 24);
});

test('an ending the store refuses (a full database) is kept, shown as not durable, answered 503, and stored with its run.end once the store is back; a kill meanwhile says it had ended', async () => {
  gate = { open: () => undefined, entered: false };
  const submitted = g.call('POST', '/v1/runs?wait=1', { profile: 'gated', input: { size: 300_000 } });
  await waitFor(() => gate.entered, 10_000);
  const db = g.gw.store.db;
  const pages = Number(db.pragma('page_count', { simple: true }));
  db.pragma(`max_page_count = ${pages}`); // the runs connection cannot grow the file: 300 KB of output will not fit
  let runId = '';
  try {
    gate.open();
    const r = await submitted;
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'store_unavailable');
    runId = /run ([0-9a-f-]{36}) ended \(succeeded\)/.exec(r.json.error.message)?.[1] ?? '';
    assert.ok(runId, r.json.error.message);
    const shown = await g.call('GET', `/v1/runs/${runId}`);
    assert.equal(shown.json.state, 'succeeded');
    assert.equal(shown.json.durable, false);
    assert.equal(rawRun(runId).state, 'running', 'the store really does not have it yet');
    const ready = await request(`${g.url}/readyz`);
    assert.equal(ready.statusCode, 503);
    assert.match(((await ready.body.json()) as any).reasons.runs, /1 run ending\(s\) not yet stored/);
    const kill = await g.call('DELETE', `/v1/runs/${runId}`);
    assert.equal(kill.status, 409, kill.text);
    assert.match(kill.json.error.message, /had already ended \(succeeded\); nothing was killed/);
    assert.equal(runEnds(runId).length, 0);
  } finally {
    db.pragma('max_page_count = 4294967294');
  }
  await waitFor(() => rawRun(runId).state === 'succeeded' && runEnds(runId).length === 1, 15_000);
  const stored = await g.call('GET', `/v1/runs/${runId}`);
  assert.equal(stored.json.durable, undefined);
  assert.equal(stored.json.output.big.length, 300_000);
  assert.equal(rawRun(runId).end_seq, runEnds(runId)[0]!.seq);
  await waitFor(async () => (await request(`${g.url}/readyz`)).statusCode === 200, 5000);
  // Nothing recorded a kill that never happened.
  const d2 = new Database(dbFile(), { readonly: true });
  assert.equal(d2.prepare("SELECT COUNT(*) FROM audit_events WHERE type = 'operator.run.kill' AND run_id = ?").pluck().get(runId), 0);
  d2.close();
});

test('a kill of a running run is 200 and recorded; of an ended run 409 and not recorded', async () => {
  gate = { open: () => undefined, entered: false };
  const sub = await g.call('POST', '/v1/runs', { profile: 'gated', input: { size: 1 } });
  assert.equal(sub.status, 202);
  await waitFor(() => gate.entered, 10_000);
  const kill = await g.call('DELETE', `/v1/runs/${sub.json.runId}`);
  assert.equal(kill.status, 200, kill.text);
  assert.equal(kill.json.state, 'killed');
  const again = await g.call('DELETE', `/v1/runs/${sub.json.runId}`);
  assert.equal(again.status, 409);
  assert.match(again.json.error.message, /had already ended \(killed, operator\)/);
  const d = new Database(dbFile(), { readonly: true });
  assert.equal(d.prepare("SELECT COUNT(*) FROM audit_events WHERE type = 'operator.run.kill' AND run_id = ?").pluck().get(sub.json.runId), 1);
  d.close();
  gate.open();
});
