/**
 * exec.run: a command inside the bubblewrap sandbox (see launch.ts), with rlimits, a pids cgroup when
 * needed, a timeout and an output cap. Without bubblewrap it refuses (sandbox_unavailable) unless
 * mode is explicitly "off".
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { DEFAULT_LIMITS, findPrlimit, rlimitPrefix, type SandboxLimits } from './limits.js';
import { expandTilde, isWithin } from './path-canonical.js';
import { shieldStdio } from './fd-leaks.js';
import { buildEnv, launch, realDir, requireSandbox, stripUndefined, type SandboxMode } from './launch.js';
import { resolveCommand } from './exec-command.js';

export interface RunSandboxedOptions {
  argv: string[];
  /** Working directory inside the sandbox; default the workspace. Must be inside it or /tmp. */
  cwd?: string;
  /** Variables set explicitly (after the environment is cleared). */
  env?: Record<string, string>;
  /** Names copied from the gateway's own environment (default PATH, LANG, LC_ALL, TZ). */
  envAllow?: string[];
  stdin?: string | Buffer;
  timeoutMs: number;
  /** Cap on stdout + stderr together; the command is killed when it is exceeded. */
  maxOutputBytes: number;
  /** Bound read-write at the same path. */
  workspace: string;
  /** Extra read-only binds (same path inside). */
  roBinds?: string[];
  /** Never mounted: blocked paths and the gateway state dir. */
  hiddenPaths?: string[];
  limits?: SandboxLimits;
  mode?: SandboxMode;
  signal?: AbortSignal;
}

export interface SandboxResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
  /** False only in mode "off". */
  sandboxed: boolean;
}

function validArgv(argv: unknown): string[] {
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0')) || !argv[0]) {
    throw new ClawguardError('bad_request', 'argv must be a non-empty array of strings without NUL bytes');
  }
  return [...(argv as string[])];
}

function checkCwd(cwd: string | undefined, workspace: string): string {
  if (cwd === undefined) return workspace;
  const c = path.resolve(workspace, cwd);
  if (!isWithin(c, workspace) && !isWithin(c, '/tmp')) throw new ClawguardError('path_blocked', `cwd "${cwd}" is blocked: it must be inside the workspace or /tmp`);
  return c;
}

export async function runSandboxed(o: RunSandboxedOptions): Promise<SandboxResult> {
  const argv = validArgv(o.argv);
  if (!Number.isFinite(o.timeoutMs) || o.timeoutMs <= 0) throw new ClawguardError('bad_request', 'timeoutMs must be a positive number');
  if (!Number.isFinite(o.maxOutputBytes) || o.maxOutputBytes < 0) throw new ClawguardError('bad_request', 'maxOutputBytes must be a non-negative number');
  const bwrap = requireSandbox(o.mode, 'exec');
  const workspace = realDir(o.workspace, 'workspace');
  const hidden = (o.hiddenPaths ?? []).map((h) => expandTilde(h));
  const cwd = checkCwd(o.cwd, workspace);
  // Commands resolve against the fixed sandbox PATH, here as in exec.run's prepare; nothing inside looks PATH up.
  if (o.env && Object.hasOwn(o.env, 'PATH')) throw new ClawguardError('bad_request', 'exec: PATH may not be set; commands are resolved against the sandbox\'s fixed PATH');
  argv[0] = resolveCommand(argv[0]!, cwd);
  const env = buildEnv(o.env, o.envAllow, {});

  const t0 = performance.now();
  let child: ChildProcess;
  let started: Promise<void>;
  const stdinMode = o.stdin === undefined ? 'ignore' : 'pipe';
  const limits = { ...DEFAULT_LIMITS, ...stripUndefined(o.limits ?? {}) };
  if (bwrap) {
    ({ child, started } = launch(bwrap, { argv, workspace, cwd, roBinds: o.roBinds ?? [], hiddenPaths: hidden, env, limits, stdio: [stdinMode, 'pipe', 'pipe'] }));
  } else {
    // mode "off": no isolation by explicit choice; still a clean environment, limits, timeout, cap.
    const prl = findPrlimit();
    const full = prl ? [...rlimitPrefix(limits, prl), ...argv] : argv;
    child = spawn(full[0]!, full.slice(1), { cwd, env, stdio: shieldStdio([stdinMode, 'pipe', 'pipe']) as StdioOptions });
    started = Promise.resolve();
  }
  return new Promise<SandboxResult>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let total = 0;
    let truncated = false;
    let timedOut = false;
    let settled = false;
    const kill = () => {
      try {
        child.kill('SIGKILL'); // bwrap dies → --die-with-parent kills the sandbox's pid 1 → the namespace dies
      } catch {
        /* already gone */
      }
    };
    const take = (sink: Buffer[]) => (chunk: Buffer) => {
      if (truncated) return;
      const room = o.maxOutputBytes - total;
      if (chunk.length > room) {
        sink.push(chunk.subarray(0, Math.max(0, room)));
        total = o.maxOutputBytes;
        truncated = true;
        kill(); // a command that floods output is stopped, not drained until the timeout
        return;
      }
      sink.push(chunk);
      total += chunk.length;
    };
    child.stdout!.on('data', take(out));
    child.stderr!.on('data', take(err));
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    const onAbort = () => kill();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // EPIPE when the command ignores stdin
      child.stdin.end(o.stdin);
    }
    let startErr: unknown;
    started.catch((e) => {
      startErr = e;
    });
    const finish = async (exitCode: number | null, sig: NodeJS.Signals | null, spawnErr?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (startErr instanceof ClawguardError && startErr.code === 'sandbox_unavailable') {
        reject(startErr);
        return;
      }
      if (spawnErr) {
        reject(new ClawguardError('tool_failed', `exec of ${JSON.stringify(argv[0])} could not start: ${spawnErr.message}`));
        return;
      }
      resolve({
        exitCode,
        signal: sig,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        truncated,
        timedOut,
        durationMs: performance.now() - t0,
        sandboxed: !!bwrap,
      });
    };
    child.once('error', (e) => void finish(null, null, e));
    child.once('close', (code, sig) => void finish(code, sig));
  });
}
