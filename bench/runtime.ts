/** Issue 2 figures: instance acquisition, trivial runs end to end, and /healthz under load. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { request } from 'undici';
import { IsolateFactory, type InstanceFactory } from '../src/runtime/index.js';
import { ProcessFactory } from '../src/runtime/index.js';
import { WarmPool } from '../src/runtime/warm-pool.js';
import { detectBubblewrap, spawnSandboxedNode } from '../src/sandbox/index.js';
import { startGateway, tempDir, writeAgent } from '../test/helpers/gateway.js';
import { type BenchRow, type BenchSection, summarize, timeAsync } from './harness.js';

async function coldCreate(f: InstanceFactory, n: number): Promise<number[]> {
  return timeAsync(n, async () => (await f.create({ memoryMb: 64 })).destroy('completed'), 2);
}

async function warmAcquire(f: InstanceFactory, n: number): Promise<number[]> {
  const pool = new WarmPool(f, 4, 64);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    pool.refill();
    while (pool.size < 1) await new Promise((r) => setTimeout(r, 2));
    const t0 = process.hrtime.bigint();
    const { instance, warm } = await pool.acquire();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (!warm) throw new Error('expected a warm instance');
    instance.destroy('completed');
  }
  pool.close();
  return out;
}

async function bareWorker(n: number): Promise<number[]> {
  return timeAsync(n, () => new Promise<void>((resolve, reject) => {
    const w = new Worker('require("worker_threads").parentPort.postMessage(1)', { eval: true });
    w.once('message', () => void w.terminate().then(() => resolve()));
    w.once('error', reject);
  }), 2);
}

async function bareBwrapNode(n: number, dir: string): Promise<number[]> {
  const script = join(dir, 'ready.cjs');
  // fd 3 is a plain socket (no Node IPC in sandboxed children): the first byte on it is "ready".
  writeFileSync(script, 'require("fs").writeSync(3, "r");');
  return timeAsync(n, () => new Promise<void>((resolve, reject) => {
    const c = spawnSandboxedNode({ script });
    c.stdio[3]?.once('data', () => resolve());
    c.once('error', reject);
    c.stdout?.resume();
    c.stderr?.resume();
  }), 2);
}

async function bareSpawnNode(n: number): Promise<number[]> {
  return timeAsync(n, () => new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', 'process.send(1)'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    c.once('message', () => { c.kill(); resolve(); });
    c.once('error', reject);
  }), 2);
}

export async function run(): Promise<BenchSection> {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const dir = tempDir('cg-bench-rt-');
  const thread = new IsolateFactory();
  const bw = detectBubblewrap();

  const worker = summarize(await bareWorker(30));
  const tw = summarize(await warmAcquire(thread, 100));
  const tc = summarize(await coldCreate(thread, 50));
  rows.push({ name: 'thread: warm acquisition p50', value: tw.p50, unit: 'ms', baselineName: 'new Worker p50', baselineValue: worker.p50, target: '<= 5 ms', met: tw.p50 <= 5 });
  rows.push({ name: 'thread: warm acquisition p99', value: tw.p99, unit: 'ms', baselineName: 'new Worker p99', baselineValue: worker.p99 });
  rows.push({ name: 'thread: cold acquisition p50', value: tc.p50, unit: 'ms', baselineName: 'new Worker p50', baselineValue: worker.p50 });
  rows.push({ name: 'thread: cold acquisition p99', value: tc.p99, unit: 'ms', baselineName: 'new Worker p99', baselineValue: worker.p99 });

  if (bw.available) {
    const proc = new ProcessFactory((o) => spawnSandboxedNode({ script: o.script, nodeArgs: o.nodeArgs, roBinds: o.roPaths, memoryMb: o.memoryMb }), () => ({ ok: true }));
    const bare = summarize(await bareBwrapNode(20, dir));
    const plain = summarize(await bareSpawnNode(20));
    const pw = summarize(await warmAcquire(proc, 30));
    const pc = summarize(await coldCreate(proc, 20));
    rows.push({ name: 'process: warm acquisition p50', value: pw.p50, unit: 'ms', baselineName: 'node under bwrap p50', baselineValue: bare.p50, target: '<= 5 ms', met: pw.p50 <= 5 });
    rows.push({ name: 'process: warm acquisition p99', value: pw.p99, unit: 'ms', baselineName: 'node under bwrap p99', baselineValue: bare.p99 });
    rows.push({ name: 'process: cold acquisition p50', value: pc.p50, unit: 'ms', baselineName: 'node under bwrap p50', baselineValue: bare.p50 });
    rows.push({ name: 'process: cold acquisition p99', value: pc.p99, unit: 'ms', baselineName: 'node under bwrap p99', baselineValue: bare.p99 });
    rows.push({ name: 'node under bwrap (spawn to first byte on its channel) p50', value: bare.p50, unit: 'ms', baselineName: 'plain spawn of node p50', baselineValue: plain.p50 });
  } else notes.push(`process isolation not measured: ${bw.reason}`);

  // End to end through HTTP.
  const trivial = writeAgent(dir, 'trivial.js', 'export default async () => 1;');
  const spin = writeAgent(dir, 'spin.js', 'export default async () => { const t = Date.now(); while (Date.now() - t < 60000) {} }');
  const g = await startGateway({
    agents: {
      t: { entry: trivial, 'max-concurrent': 4, warmPool: 4 },
      pcold: { entry: trivial, isolation: 'process', warmPool: 0 },
      pwarm: { entry: trivial, isolation: 'process', warmPool: 2, 'max-concurrent': 2 },
      spin: { entry: spin, timeout: 30, 'max-concurrent': 2 },
    },
  });
  try {
    const post = (profile: string) => async () => {
      const r = await request(`${g.url}/v1/runs?wait=1`, { method: 'POST', headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ profile }) });
      const j = (await r.body.json()) as { state: string };
      if (j.state !== 'succeeded') throw new Error(`run ${j.state}`);
    };
    const health = async () => { const r = await request(`${g.url}/healthz`); await r.body.text(); };
    const h0 = summarize(await timeAsync(200, health));
    const et = summarize(await timeAsync(100, post('t')));
    rows.push({ name: 'thread: trivial run via HTTP p50', value: et.p50, unit: 'ms', baselineName: '/healthz p50', baselineValue: h0.p50, target: '<= 15 ms', met: et.p50 <= 15 });
    rows.push({ name: 'thread: trivial run via HTTP p99', value: et.p99, unit: 'ms', baselineName: '/healthz p99', baselineValue: h0.p99 });
    const N = 200;
    const t0 = performance.now();
    const q = post('t');
    await Promise.all(Array.from({ length: 4 }, async () => { for (let i = 0; i < N / 4; i++) await q(); }));
    const tput = N / ((performance.now() - t0) / 1000);
    rows.push({ name: 'thread: trivial-run throughput (4 clients)', value: tput, unit: 'runs/s' });
    if (bw.available) {
      const pc = summarize(await timeAsync(30, post('pcold'), 2));
      rows.push({ name: 'process (cold): trivial run via HTTP p50', value: pc.p50, unit: 'ms', baselineName: '/healthz p50', baselineValue: h0.p50, target: '<= 60 ms', met: pc.p50 <= 60 });
      const pw = summarize(await timeAsync(30, post('pwarm'), 2));
      rows.push({ name: 'process (warm pool): trivial run via HTTP p50', value: pw.p50, unit: 'ms', baselineName: '/healthz p50', baselineValue: h0.p50 });
      const t1 = performance.now();
      const qp = post('pwarm');
      await Promise.all(Array.from({ length: 2 }, async () => { for (let i = 0; i < 20; i++) await qp(); }));
      rows.push({ name: 'process: trivial-run throughput (2 clients)', value: 40 / ((performance.now() - t1) / 1000), unit: 'runs/s' });
    }
    // /healthz while two runs spin at 100% CPU on this 2-core machine.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await request(`${g.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ profile: 'spin' }) });
      ids.push(((await r.body.json()) as { runId: string }).runId);
    }
    await new Promise((r) => setTimeout(r, 300));
    const hl = summarize(await timeAsync(300, health, 5));
    rows.push({ name: '/healthz p99 while 2 runs spin', value: hl.p99, unit: 'ms', baselineName: '/healthz p99 idle', baselineValue: h0.p99, target: '<= 50 ms', met: hl.p99 <= 50 });
    for (const id of ids) await request(`${g.url}/v1/runs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${g.token}` } }).then((r) => r.body.text());
  } finally {
    await g.close();
  }
  return { title: 'Thread-bound runtime (issue 2)', rows, notes };
}
