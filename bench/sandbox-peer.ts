/**
 * The peer, side by side: the same command sandboxed by `@anthropic-ai/sandbox-runtime`, used as a
 * library the way a gateway would (initialize once with no network and the workspace writable, then
 * wrapWithSandbox + spawn per command), interleaved with our runSandboxed in the same rounds.
 * Loaded dynamically: when the package is not installed the row says so. `CLAWGUARD_BENCH_PEER` may
 * name the module file to load instead (a scratch install).
 */
import { spawn } from 'node:child_process';
import { runSandboxed } from '../src/sandbox/index.js';
import { summarize, timeAsync, type BenchRow } from './harness.js';

interface PeerManager {
  initialize(config: unknown): Promise<void>;
  wrapWithSandbox(command: string): Promise<string>;
  reset(): Promise<void>;
}

async function loadPeer(): Promise<{ manager: PeerManager; version: string } | { missing: string }> {
  const spec = process.env.CLAWGUARD_BENCH_PEER ?? '@anthropic-ai/sandbox-runtime';
  try {
    const mod = (await import(spec)) as { SandboxManager?: PeerManager };
    if (!mod.SandboxManager) return { missing: `${spec} has no SandboxManager export` };
    let version = '?';
    try {
      const { createRequire } = await import('node:module');
      const req = createRequire(import.meta.url);
      version = (req(spec.endsWith('.js') ? spec.replace(/dist\/index\.js$/, 'package.json') : `${spec}/package.json`) as { version: string }).version;
    } catch {
      /* version unknown */
    }
    return { manager: mod.SandboxManager, version };
  } catch (e) {
    return { missing: `not installed (${(e as Error).message.split('\n')[0]})` };
  }
}

/** Rows comparing our sandboxed exec of `argv` with the peer's, plus a note. */
export async function peerRows(ws: string, argv: string[]): Promise<{ rows: BenchRow[]; note: string }> {
  const peer = await loadPeer();
  if ('missing' in peer) return { rows: [], note: `peer @anthropic-ai/sandbox-runtime: ${peer.missing}; add it to devDependencies to compare` };
  const t0 = performance.now();
  await peer.manager.initialize({ network: { allowedDomains: [], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [ws], denyWrite: [] } });
  const initMs = performance.now() - t0;
  try {
    const command = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const theirs = async () => {
      const wrapped = await peer.manager.wrapWithSandbox(command);
      await new Promise<void>((resolve, reject) => {
        const c = spawn(wrapped, { shell: true, cwd: ws, stdio: ['ignore', 'pipe', 'pipe'] });
        c.stdout!.resume();
        c.stderr!.resume();
        c.once('error', reject);
        c.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`peer exited ${code}`))));
      });
    };
    const ours = () => runSandboxed({ argv, workspace: ws, timeoutMs: 10_000, maxOutputBytes: 65_536 });
    const o: number[] = [];
    const p: number[] = [];
    for (let round = 0; round < 4; round++) {
      o.push(...(await timeAsync(30, ours, 5)));
      p.push(...(await timeAsync(30, theirs, 5)));
    }
    const os = summarize(o);
    const ps = summarize(p);
    return {
      rows: [{ name: `peer: sandbox-runtime ${peer.version} exec ${argv.join(' ')} p50`, value: ps.p50, unit: 'ms', baselineName: 'our runSandboxed p50 (same rounds)', baselineValue: os.p50 }],
      note: `peer @anthropic-ai/sandbox-runtime ${peer.version} as a library: initialize() once took ${initMs.toFixed(0)} ms (proxy servers); each command = wrapWithSandbox + spawn through a shell; p99 ${ps.p99.toFixed(1)} ms vs ours ${os.p99.toFixed(1)} ms`,
    };
  } finally {
    await peer.manager.reset();
  }
}
