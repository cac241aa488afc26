/**
 * kill -9 of a real gateway process, twenty times, each time under load: afterwards the log
 * verifies and every action acknowledged to a client is in it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
// The same SQLite build as the gateway's (two copies in one process do not see each other's locks).
import { SqliteDatabase as Database } from '../../src/store/index.js';
import { Agent, request } from 'undici';
import { tempDir, writeAgent } from '../helpers/gateway.js';

const BIN = resolve('bin/clawguard.js');
const CYCLES = 20;

async function startChild(stateDir: string, config: string): Promise<{ child: ChildProcess; url: string; token: string }> {
  const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--state-dir', stateDir, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CLAWGUARD_LOG_LEVEL: 'error' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const info = join(stateDir, 'gateway.json');
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (existsSync(info)) {
      try {
        const j = JSON.parse(readFileSync(info, 'utf8')) as { pid: number; url: string };
        if (j.pid === child.pid) return { child, url: j.url, token: readFileSync(join(stateDir, 'operator.token'), 'utf8').trim() };
      } catch {
        /* being written */
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test(`kill -9 of the gateway ${CYCLES} times under load: verify passes and every acknowledged action is in the log`, { timeout: 120_000 }, async () => {
  const dir = tempDir('cg-crash-');
  const stateDir = join(dir, 'state');
  const entry = writeAgent(dir, 'work.js', `export default async function (input, ctx) { const a = await ctx.tools.call('system.time', {}); const b = await ctx.tools.call('system.time', {}); return [a.ok, b.ok]; }`);
  const config = join(dir, 'clawguard.json');
  writeFileSync(config, JSON.stringify({ agents: { work: { entry, 'max-concurrent': 8, warmPool: 2, tools: { allow: ['system.time'] } } }, audit: { checkpointEvery: 50, checkpointSeconds: 1 } }));
  const ackedRuns: string[] = [];
  const ackedRejections: string[] = [];
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const { child, url, token } = await startChild(stateDir, config);
    const dispatcher = new Agent({ connections: 16 });
    const exited = new Promise((r) => child.once('exit', r));
    let stop = false;
    const loop = async (i: number) => {
      while (!stop) {
        try {
          if (i % 3 === 0) {
            const path = `/v1/missing/${randomUUID()}`;
            const r = await request(url + path, { dispatcher, headers: { authorization: `Bearer ${token}` } });
            await r.body.text();
            if (r.statusCode === 404) ackedRejections.push(path);
          } else {
            const r = await request(`${url}/v1/runs?wait=1`, { dispatcher, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"profile":"work"}' });
            const j = (await r.body.json()) as { runId?: string; state?: string; output?: unknown };
            if (r.statusCode === 200 && j.state === 'succeeded') {
              assert.deepEqual(j.output, [true, true]);
              ackedRuns.push(j.runId!);
            }
          }
        } catch {
          return; // the gateway died under us: unacknowledged
        }
      }
    };
    const loops = Array.from({ length: 6 }, (_, i) => loop(i));
    // under load until this cycle has acknowledged some runs (or 2 s), then a little more, then kill -9
    const runsBefore = ackedRuns.length;
    const until = Date.now() + 2000;
    while (ackedRuns.length < runsBefore + 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, (cycle * 37) % 80));
    child.kill('SIGKILL');
    stop = true;
    await exited;
    await Promise.all(loops);
    await dispatcher.destroy();
  }
  // One more start and a clean stop: the last kill's abandoned runs are recovered like the others.
  {
    const { child } = await startChild(stateDir, config);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  assert.ok(ackedRuns.length > CYCLES, `runs acknowledged: ${ackedRuns.length}`);
  assert.ok(ackedRejections.length > CYCLES, `rejections acknowledged: ${ackedRejections.length}`);

  const verify = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--state-dir', stateDir, '--json'], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  const v = JSON.parse(verify.stdout);
  assert.equal(v.ok, true);
  assert.ok(v.checkpoints > 0);

  const db = new Database(join(stateDir, 'clawguard.db'), { readonly: true });
  const byRun = db.prepare("SELECT type, decision FROM audit_events WHERE run_id = ? AND type IN ('run.start', 'tool.decision') ORDER BY seq");
  for (const runId of ackedRuns) {
    assert.deepEqual(byRun.all(runId), [{ type: 'run.start', decision: 'allow' }, { type: 'tool.decision', decision: 'allow' }, { type: 'tool.decision', decision: 'allow' }], `run ${runId}`);
  }
  // Every run acknowledged as finished has its run.end (state succeeded), written before the answer.
  const ends = db.prepare("SELECT payload FROM audit_events WHERE run_id = ? AND type = 'run.end'").pluck();
  for (const runId of ackedRuns) {
    const e = ends.all(runId) as string[];
    assert.equal(e.length, 1, `run.end of acknowledged run ${runId}`);
    assert.equal(JSON.parse(e[0]!).state, 'succeeded');
    assert.equal(JSON.parse(e[0]!).recovered, undefined, `run ${runId} was acknowledged, so its run.end was not left to recovery`);
  }
  // Every run ever started has ended, with exactly one run.end; those a kill abandoned, a recovered one.
  const all = db.prepare('SELECT run_id, state, reason, end_seq FROM runs').all() as Array<{ run_id: string; state: string; reason: string | null; end_seq: number | null }>;
  let abandoned = 0;
  for (const r of all) {
    assert.notEqual(r.state, 'running', r.run_id);
    assert.notEqual(r.state, 'queued', r.run_id);
    const e = ends.all(r.run_id) as string[];
    assert.equal(e.length, 1, `run ${r.run_id} (${r.state}) has ${e.length} run.end events`);
    assert.ok(r.end_seq !== null, r.run_id);
    if (r.reason === 'gateway_restart') {
      abandoned++;
      assert.deepEqual({ ...JSON.parse(e[0]!), durationMs: 0 }, { state: 'killed', durationMs: 0, error: 'gateway_restart', reason: 'gateway_restart', recovered: true });
    }
  }
  assert.ok(abandoned > 0, 'some runs were abandoned by the kills');
  const byPath = db.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'http.rejected' AND resource = ?").pluck();
  for (const path of ackedRejections) assert.equal(byPath.get(path), 1, path);
  db.close();
});
