import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';

const dir = tempDir('cg-http-');
let g: TestGateway;
const logLines: any[] = [];
before(async () => {
  g = await startGateway(
    {
      gateway: { bodyLimitBytes: 2048 },
      agents: {
        ok: { entry: writeAgent(dir, 'ok.js', `export default async (i, ctx) => { ctx.log('hello from agent', { n: 1 }); return 1; }`), tools: { allow: ['system.time'] } },
        slowp: { entry: writeAgent(dir, 'slow.js', `export default async () => { const t = Date.now(); while (Date.now() - t < 200) {} return 2; }`) },
      },
    },
    { logLines },
  );
});
after(async () => g?.close());

test('/healthz is open', async () => {
  const r = await request(`${g.url}/healthz`);
  assert.equal(r.statusCode, 200);
  assert.deepEqual(await r.body.json(), { status: 'ok' });
});

test('operator endpoints need the operator token', async () => {
  const none = await g.call('GET', '/v1/runs', undefined, { authorization: '' });
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'unauthenticated');
  const wrong = await g.call('GET', '/v1/runs', undefined, { authorization: 'Bearer nope' });
  assert.equal(wrong.status, 401);
  assert.equal((await g.call('GET', '/v1/status')).status, 200);
});

test('unknown profile → 404; malformed JSON → 400; too big → 413; unknown field → 400; never 500', async () => {
  const a = await g.call('POST', '/v1/runs', { profile: 'nope' });
  assert.equal(a.status, 404);
  assert.equal(a.json.error.code, 'profile_not_found');
  const b = await g.call('POST', '/v1/runs', '{"profile": ');
  assert.equal(b.status, 400);
  assert.equal(b.json.error.code, 'invalid_json');
  const c = await g.call('POST', '/v1/runs', { profile: 'ok', input: 'x'.repeat(5000) });
  assert.equal(c.status, 413);
  assert.equal(c.json.error.code, 'body_too_large');
  const d = await g.call('POST', '/v1/runs', { profile: 'ok', extra: 1 });
  assert.equal(d.status, 400);
  assert.match(d.json.error.message, /extra/);
  const e = await g.call('GET', '/v1/runs/not-a-uuid');
  assert.equal(e.status, 400);
  const f = await g.call('GET', '/v1/runs/01890000-0000-7000-8000-000000000000');
  assert.equal(f.status, 404);
  const h = await g.call('GET', '/v1/runs?state=bogus');
  assert.equal(h.status, 400);
  const i = await g.call('POST', '/v1/runs', [1, 2]);
  assert.equal(i.status, 400);
  const j = await g.call('GET', '/v1/nothing');
  assert.equal(j.status, 404);
  for (const r of [a, b, c, d, e, f, h, i, j]) assert.ok(!/at .*\.js:\d+/.test(r.text), 'no stack trace in the body');
});

test('/metrics exposes the thread-bound metrics and passes promtool', async () => {
  await g.call('POST', '/v1/runs?wait=1', { profile: 'ok' });
  const r = await request(`${g.url}/metrics`);
  assert.equal(r.statusCode, 200);
  const text = await r.body.text();
  for (const m of ['clawguard_thread_bound_runs_total{profile="ok",outcome="succeeded"} ', 'clawguard_thread_bound_execution_seconds_bucket', 'clawguard_thread_bound_active', 'clawguard_thread_bound_queued', 'clawguard_thread_bound_timeouts_total', 'clawguard_thread_bound_errors_total', 'clawguard_thread_bound_heap_bytes', 'clawguard_thread_bound_cpu_seconds_total', 'clawguard_process_']) {
    assert.ok(text.includes(m), `missing ${m}`);
  }
  assert.ok(!/run_?id=/i.test(text), 'no run ids as labels');
  for (const line of text.split('\n')) if (line && !line.startsWith('#')) assert.match(line, /^clawguard_/);
  const promtool = spawnSync('promtool', ['--version']);
  if (promtool.error) return assert.fail('promtool is not installed (CI installs prometheus)');
  const f = join(dir, 'metrics.txt');
  writeFileSync(f, text);
  const check = spawnSync('sh', ['-c', `promtool check metrics < ${f}`], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('status shows per-profile runtime figures', async () => {
  const s = await g.call('GET', '/v1/status');
  const ok = s.json.agents.find((a: { profile: string }) => a.profile === 'ok');
  assert.equal(ok.isolation, 'thread');
  assert.equal(ok.runtime, 'thread-bound');
  assert.ok(ok.totals.succeeded >= 1);
  assert.equal(typeof ok.p50Ms, 'number');
  assert.equal(ok.warmPool.healthy, true);
  assert.equal(s.json.isolation.thread.available, true);
});

test('structured logs: one line per run start and end with the runId; agent logs carry it too', async () => {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'ok' });
  const mine = logLines.filter((l) => l.runId === r.json.runId);
  assert.equal(mine.filter((l) => l.event === 'run.start').length, 1);
  assert.equal(mine.filter((l) => l.event === 'run.end').length, 1);
  assert.ok(mine.some((l) => l.msg === 'hello from agent' && l.agent === true));
});

test('/healthz stays fast while runs spin', async () => {
  const runs = [g.call('POST', '/v1/runs?wait=1', { profile: 'slowp' }), g.call('POST', '/v1/runs?wait=1', { profile: 'slowp' })];
  const h = await request(`${g.url}/healthz`);
  assert.equal(h.statusCode, 200);
  await h.body.text();
  for (const r of await Promise.all(runs)) assert.equal(r.json.state, 'succeeded');
});
