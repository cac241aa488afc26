/**
 * Storage bench (issue 13): /healthz latency while another process holds the store's write lock
 * (the sqlite3 shell in BEGIN EXCLUSIVE, as a backup tool would), with run submissions and
 * unauthenticated requests arriving all the while, against a real gateway in its own process.
 * Before, each submission held the event loop for the 5 s busy timeout and /healthz took 6 s.
 * Baseline: the same load with no lock held.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { type BenchSection, summarize } from './harness.js';

const SAMPLES = 400;

async function startGateway(dir: string): Promise<{ child: ChildProcess; url: string; token: string; db: string }> {
  writeFileSync(join(dir, 'agent.js'), 'export default async () => 1;');
  writeFileSync(join(dir, 'clawguard.json'), JSON.stringify({ agents: { bench: { entry: join(dir, 'agent.js'), warmPool: 0 } } }));
  const stateDir = join(dir, 'state');
  const child = spawn(process.execPath, ['--no-node-snapshot', resolve('bin/clawguard.js'), '--config', join(dir, 'clawguard.json'), '--state-dir', stateDir, 'start', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CLAWGUARD_LOG_LEVEL: 'error' } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const t0 = Date.now();
  while (!existsSync(join(stateDir, 'gateway.json'))) {
    if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`bench gateway did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = JSON.parse(readFileSync(join(stateDir, 'gateway.json'), 'utf8')) as { url: string };
  return { child, url: info.url, token: readFileSync(join(stateDir, 'operator.token'), 'utf8').trim(), db: join(stateDir, 'clawguard.db') };
}

async function holdLock(db: string): Promise<() => Promise<void>> {
  const p = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stdin!.write(".timeout 5000\nBEGIN EXCLUSIVE;\nSELECT 'lock-' || 'held';\n");
  const t0 = Date.now();
  while (!out.includes('lock-held')) {
    if (p.exitCode !== null || Date.now() - t0 > 10_000) throw new Error('sqlite3 did not take the lock');
    await new Promise((r) => setTimeout(r, 10));
  }
  return async () => {
    const exited = new Promise((r) => p.once('exit', r));
    p.stdin!.end('ROLLBACK;\n.quit\n');
    await exited;
  };
}

/** /healthz latencies (ms) while submissions and rejected requests keep coming. */
async function healthUnderLoad(url: string, token: string): Promise<{ health: number[]; submitted: Record<number, number> }> {
  const health = new Pool(url, { connections: 1 });
  const load = new Pool(url, { connections: 8 });
  const submitted: Record<number, number> = {};
  let stop = false;
  const loaders = Array.from({ length: 6 }, async (_, i) => {
    while (!stop) {
      const r = await load.request(i % 2 ? { method: 'POST', path: '/v1/runs', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"profile":"bench"}' } : { method: 'GET', path: '/v1/status', headers: { authorization: 'Bearer wrong' } });
      await r.body.dump();
      submitted[r.statusCode] = (submitted[r.statusCode] ?? 0) + 1;
    }
  });
  const out: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = process.hrtime.bigint();
    const r = await health.request({ method: 'GET', path: '/healthz' });
    await r.body.dump();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await new Promise((res) => setTimeout(res, 2));
  }
  stop = true;
  await Promise.all(loaders);
  await health.close();
  await load.close();
  return { health: out, submitted };
}

export async function run(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-bench-storage-'));
  const gw = await startGateway(dir);
  try {
    const free = await healthUnderLoad(gw.url, gw.token);
    const release = await holdLock(gw.db);
    let locked;
    try {
      locked = await healthUnderLoad(gw.url, gw.token);
    } finally {
      await release();
    }
    const f = summarize(free.health);
    const l = summarize(locked.health);
    const answers = (s: Record<number, number>) => Object.entries(s).map(([k, v]) => `${k}: ${v}`).join(', ');
    return {
      title: 'Storage faults: /healthz while another process holds the store lock',
      rows: [
        { name: '/healthz p99, store locked, under load', value: l.p99, unit: 'ms', baselineName: 'not locked', baselineValue: f.p99, target: '<= 50 ms', met: l.p99 <= 50 },
        { name: '/healthz p50, store locked, under load', value: l.p50, unit: 'ms', baselineName: 'not locked', baselineValue: f.p50 },
      ],
      notes: [`${SAMPLES} sequential /healthz per phase, with 6 clients submitting runs and sending rejected requests all the while. Answers to the load, not locked: ${answers(free.submitted)}; locked: ${answers(locked.submitted)} (503 = store_unavailable at once).`],
    };
  } finally {
    gw.child.kill('SIGTERM');
    await new Promise((r) => gw.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
