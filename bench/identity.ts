/**
 * Identity benchmark (issue 3): the same POST /v1/tools/system.time, signed (RFC 9421, Ed25519,
 * Content-Digest) vs unsigned, against one real gateway running in its own process (as outside
 * agents see it), in one run with interleaved rounds.
 * - latency, one request in flight: end to end (the client signs each request inside the timed
 *   section) and gateway-side only (requests signed just before the timed section);
 * - throughput, 16 requests in flight for a fixed time (requests signed ahead, so the figure is
 *   the gateway's capacity, not the load generator's), in paired rounds whose ratios give the
 *   target figure.
 * Unsigned requests are served because the bench gateway runs with requireAuthentication false on
 * loopback, where they act as the "anonymous" profile; the signed agent is bound to an identical
 * profile, so both go through the same pipeline and tool.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { createAgentClient, generateEd25519, publicKeyPem } from '../src/identity/index.js';
import { type BenchRow, type BenchSection, renderSection, summarize } from './harness.js';

const PATH = '/v1/tools/system.time';
const ROUNDS = 7;
const BODY = '{}';

async function startGateway(dir: string): Promise<{ child: ChildProcess; url: string; token: string }> {
  writeFileSync(
    join(dir, 'clawguard.json'),
    JSON.stringify({
      agents: { anonymous: { tools: { allow: ['system.time'] }, warmPool: 0 }, bench: { tools: { allow: ['system.time'] }, warmPool: 0 } },
      security: { zeroTrust: { enabled: true, policies: { agentCommunication: { requireAuthentication: false } } } },
    }),
  );
  const stateDir = join(dir, 'state');
  const child = spawn(process.execPath, [resolve('bin/clawguard.js'), '--config', join(dir, 'clawguard.json'), '--state-dir', stateDir, 'start', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CLAWGUARD_LOG_LEVEL: 'warn' } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const t0 = Date.now();
  while (!existsSync(join(stateDir, 'gateway.json'))) {
    if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`bench gateway did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = JSON.parse(readFileSync(join(stateDir, 'gateway.json'), 'utf8')) as { url: string };
  return { child, url: info.url, token: readFileSync(join(stateDir, 'operator.token'), 'utf8').trim() };
}

type Req = { headers: Record<string, string> };

async function send(pool: Pool, r: Req): Promise<void> {
  const res = await pool.request({ method: 'POST', path: PATH, headers: r.headers, body: BODY });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`bench request answered ${res.statusCode}`);
}

async function latency(pool: Pool, n: number, make: () => Req, presign: boolean): Promise<number[]> {
  const ready = presign ? Array.from({ length: n }, make) : [];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await send(pool, presign ? ready[i]! : make());
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** CPU time (ms) the gateway process has used so far, from /proc (Linux); NaN elsewhere. */
function gatewayCpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

async function throughput(pool: Pool, ms: number, concurrency: number, make: () => Req, pid: number | undefined): Promise<{ rps: number; cpuUsPerRequest: number }> {
  const ready = Array.from({ length: Math.ceil((ms / 1000) * 12_000) }, make);
  let next = 0;
  let done = 0;
  const c0 = gatewayCpuMs(pid);
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end && next < ready.length) {
        await send(pool, ready[next++]!);
        done++;
      }
    }),
  );
  const rps = done / ((performance.now() - t0) / 1000);
  return { rps, cpuUsPerRequest: ((gatewayCpuMs(pid) - c0) * 1000) / done };
}

export async function run(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'clawguard-identity-bench-'));
  const gw = await startGateway(dir);
  try {
    const { privateKey, publicKey } = generateEd25519();
    const pool = new Pool(gw.url, { connections: 16, pipelining: 1 });
    const reg = await pool.request({ method: 'POST', path: '/v1/agents', headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agentId: 'bench-agent', publicKey: publicKeyPem(publicKey), profile: 'bench' }) });
    await reg.body.text();
    if (reg.statusCode !== 201) throw new Error(`registering the bench agent answered ${reg.statusCode}`);
    const client = createAgentClient({ gatewayUrl: gw.url, agentId: 'bench-agent', privateKey });
    const unsigned = (): Req => ({ headers: { 'content-type': 'application/json' } });
    const signed = (): Req => ({ headers: client.signHeaders('POST', `${gw.url}${PATH}`, { 'content-type': 'application/json' }, Buffer.from(BODY)) });
    // Sign-only cost on this machine, for reference.
    const signMs = summarize(Array.from({ length: 2000 }, () => {
      const t0 = process.hrtime.bigint();
      void signed();
      return Number(process.hrtime.bigint() - t0) / 1e6;
    }));

    await latency(pool, 300, unsigned, false);
    await latency(pool, 300, signed, false);
    const lat = { unsigned: [] as number[], e2e: [] as number[], gateway: [] as number[] };
    for (let round = 0; round < 5; round++) {
      lat.unsigned.push(...(await latency(pool, 400, unsigned, false)));
      lat.e2e.push(...(await latency(pool, 400, signed, false)));
      lat.gateway.push(...(await latency(pool, 400, signed, true)));
    }
    const u = summarize(lat.unsigned);
    const e = summarize(lat.e2e);
    const gsig = summarize(lat.gateway);

    const rps = { unsigned: [] as number[], signed: [] as number[] };
    const cpu = { unsigned: [] as number[], signed: [] as number[] };
    // Paired rounds: each signed round is compared with the unsigned round just before it, so a
    // slow stretch of this shared machine weighs on both sides of one ratio, not on one mode.
    for (let round = 0; round < ROUNDS; round++) {
      const a = await throughput(pool, 1000, 16, unsigned, gw.child.pid);
      const b = await throughput(pool, 1000, 16, signed, gw.child.pid);
      rps.unsigned.push(a.rps);
      rps.signed.push(b.rps);
      cpu.unsigned.push(a.cpuUsPerRequest);
      cpu.signed.push(b.cpuUsPerRequest);
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const ru = med(rps.unsigned);
    const rs = med(rps.signed);
    const ratio = med(rps.signed.map((x, i) => x / rps.unsigned[i]!));
    await client.close();
    await pool.close();

    const addedGw = (gsig.p50 - u.p50) * 1000;
    const addedE2e = (e.p50 - u.p50) * 1000;
    const rows: BenchRow[] = [
      { name: 'signed request p50 (gateway side: signed before the clock starts)', value: gsig.p50, unit: 'ms', baselineName: 'unsigned p50', baselineValue: u.p50 },
      { name: 'signature adds at p50, gateway side', value: addedGw, unit: 'µs', target: '<= 150 µs', met: addedGw <= 150 },
      { name: 'signed request p99 (gateway side)', value: gsig.p99, unit: 'ms', baselineName: 'unsigned p99', baselineValue: u.p99 },
      { name: 'signed request p50 end to end (client signs inside the clock)', value: e.p50, unit: 'ms', baselineName: 'unsigned p50', baselineValue: u.p50 },
      { name: 'signature adds at p50, end to end', value: addedE2e, unit: 'µs', target: '<= 150 µs', met: addedE2e <= 150 },
      { name: 'signed request p99 end to end', value: e.p99, unit: 'ms', baselineName: 'unsigned p99', baselineValue: u.p99 },
      { name: 'signed throughput, 16 in flight (medians)', value: rs, unit: 'req/s', baselineName: 'unsigned req/s', baselineValue: ru },
      { name: 'signed / unsigned throughput, median of paired rounds', value: ratio * 100, unit: '%', target: '>= 60% of unsigned', met: ratio >= 0.6 },
      ...(Number.isFinite(med(cpu.signed)) ? [{ name: 'gateway CPU per signed request (under load)', value: med(cpu.signed), unit: 'µs', baselineName: 'per unsigned request', baselineValue: med(cpu.unsigned) }] : []),
      { name: 'client: sign one request (Ed25519 + sha-256 digest) p50', value: signMs.p50 * 1000, unit: 'µs' },
    ];
    return {
      title: 'identity: signed vs unsigned agent requests',
      rows,
      notes: [
        `Gateway in its own process on ${availableParallelism()} cores (shared with this load generator); POST ${PATH} with body ${BODY}; latency: 5 interleaved rounds of 400 sequential requests per mode; throughput: ${ROUNDS} pairs of 1 s rounds (unsigned, then signed) at 16 in flight over keep-alive connections; per-pair ratios ${rps.signed.map((x, i) => (x / rps.unsigned[i]!).toFixed(2)).join(' / ')} (unsigned ${rps.unsigned.map((x) => x.toFixed(0)).join('/')} req/s; signed ${rps.signed.map((x) => x.toFixed(0)).join('/')}).`,
      ],
    };
  } finally {
    gw.child.kill('SIGTERM');
    await new Promise((r) => (gw.child.exitCode !== null ? r(undefined) : gw.child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then((s) => process.stdout.write(`${renderSection(s)}\n`));
}
