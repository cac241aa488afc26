/**
 * exec.run and process isolation: spawn a command (or a Node script with an IPC channel) inside the
 * bubblewrap sandbox built by buildBwrapArgs, with rlimits, a pids cgroup when needed, a timeout and
 * an output cap. Without bubblewrap both refuse (sandbox_unavailable) unless mode is explicitly "off".
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { buildBwrapArgs, detectBubblewrap, systemLayout, type Bind } from './bwrap.js';
import { DEFAULT_LIMITS, PidsCgroup, findPrlimit, processLimitStatus, rlimitPrefix, type SandboxLimits } from './limits.js';
import { expandTilde, isWithin } from './path-canonical.js';
import { shieldStdio } from './fd-leaks.js';

export type SandboxMode = 'strict' | 'standard' | 'off';

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

export const DEFAULT_ENV_ALLOW = ['PATH', 'LANG', 'LC_ALL', 'TZ'];
const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

function requireSandbox(mode: SandboxMode | undefined, what: string): string | undefined {
  if (mode === 'off') return undefined;
  const info = detectBubblewrap();
  if (!info.available) {
    throw new ClawguardError('sandbox_unavailable', `${what} refused: ${info.reason ?? 'bubblewrap is unavailable'}; it never runs unsandboxed unless sandbox mode is "off"`, {
      details: { reason: info.reason },
    });
  }
  if (!findPrlimit()) throw new ClawguardError('sandbox_unavailable', `${what} refused: prlimit (util-linux) is not installed, so resource limits cannot be applied`);
  return info.path!;
}

function validArgv(argv: unknown): string[] {
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0')) || !argv[0]) {
    throw new ClawguardError('bad_request', 'argv must be a non-empty array of strings without NUL bytes');
  }
  return argv as string[];
}

function realDir(p: string, what: string): string {
  if (typeof p !== 'string' || !path.isAbsolute(p) || p.includes('\0')) throw new ClawguardError('bad_request', `${what} ${JSON.stringify(p)} must be an absolute path`);
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    throw new ClawguardError('not_found', `${what} "${p}" does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new ClawguardError('bad_request', `${what} "${p}" is not a directory`);
  if (real === '/') throw new ClawguardError('bad_request', `${what} may not be "/"`);
  return real;
}

function buildEnv(env: Record<string, string> | undefined, envAllow: string[] | undefined, extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { PATH: SANDBOX_PATH, HOME: '/tmp', ...extra };
  for (const name of envAllow ?? DEFAULT_ENV_ALLOW) {
    const v = process.env[name];
    if (v !== undefined && name !== 'PATH') out[name] = v;
  }
  // The host PATH may name directories that do not exist inside; keep the sandbox PATH unless asked.
  for (const [k, v] of Object.entries(env ?? {})) out[k] = v;
  return out;
}

interface LaunchOptions {
  argv: string[];
  workspace?: string;
  cwd: string;
  roBinds: Array<string | Bind>;
  hiddenPaths: string[];
  env: Record<string, string>;
  /** Already merged with the caller's defaults; undefined entries are not set. */
  limits: SandboxLimits;
  stdio: Array<'pipe' | 'ignore' | 'ipc'>;
  serialization?: 'json' | 'advanced';
}

interface Launched {
  child: ChildProcess;
  /** Rejects (after killing the sandbox) if the process limit could not be applied. */
  started: Promise<void>;
}

/**
 * Spawn bwrap with the one builder; the command runs under prlimit. When a pids cgroup is in use, bwrap
 * reports its child's pid on an info descriptor and waits on a block descriptor; that child is moved
 * into the cgroup before the command is allowed to start, so every descendant is counted.
 */
function launch(bwrap: string, o: LaunchOptions): Launched {
  const sys = systemLayout(o.hiddenPaths);
  const processes = o.limits.processes ?? DEFAULT_LIMITS.processes;
  const cgroup = PidsCgroup.acquire(processes + 2); // + the sandbox's pid-1 reaper, slack
  const stdio = shieldStdio<'pipe' | 'ignore' | 'ipc'>(cgroup ? [...o.stdio, 'pipe', 'pipe'] : [...o.stdio]) as StdioOptions;
  let args: string[];
  try {
    args = buildBwrapArgs(
    {
      argv: [...rlimitPrefix(o.limits, findPrlimit()!), ...o.argv],
      roBinds: [...sys.roBinds, ...o.roBinds],
      rwBinds: o.workspace ? [o.workspace] : [],
      symlinks: sys.symlinks,
      hiddenPaths: o.hiddenPaths,
      network: 'none',
      env: o.env,
      cwd: o.cwd,
      tmpfsTmp: true,
      tmpSizeMb: o.limits.tmpSizeMb ?? DEFAULT_LIMITS.tmpSizeMb,
      dieWithParent: true,
      newSession: true,
      ...(cgroup ? { syncFds: { info: o.stdio.length, block: o.stdio.length + 1 } } : {}),
    },
    detectBubblewrap().features,
    );
  } catch (e) {
    if (cgroup) void cgroup.release();
    throw e;
  }
  let child: ChildProcess;
  try {
    child = spawn(bwrap, args, { cwd: '/', env: {}, stdio, ...(o.serialization ? { serialization: o.serialization } : {}) });
  } catch (e) {
    if (cgroup) void cgroup.release();
    throw e;
  }
  if (!cgroup) return { child, started: Promise.resolve() };
  child.once('exit', () => void cgroup.release());
  const info = child.stdio[o.stdio.length] as NodeJS.ReadableStream & { destroy(): void };
  const block = child.stdio[o.stdio.length + 1] as NodeJS.WritableStream & { destroy(): void };
  const started = new Promise<void>((resolve, reject) => {
    let buf = '';
    const onExit = () => reject(new ClawguardError('tool_failed', 'sandbox exited before it started'));
    child.once('exit', onExit);
    info.on('error', () => undefined);
    block.on('error', () => undefined);
    info.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const m = /"child-pid":\s*(\d+)/.exec(buf);
      if (!m) return;
      // Keep draining: bwrap writes more fields after child-pid, and a closed pipe would SIGPIPE it.
      info.removeAllListeners('data');
      info.on('data', () => undefined);
      child.off('exit', onExit);
      // Only bwrap's child (the sandbox's pid 1) needs to be inside: the command and all its
      // descendants are forked from it after the block is released. bwrap's outer process never forks again.
      cgroup.join(Number(m[1])).then(
        () => {
          block.end('go');
          resolve();
        },
        (e: Error) => {
          child.kill('SIGKILL');
          reject(new ClawguardError('sandbox_unavailable', `could not apply the process limit (pids cgroup ${cgroup.dir}): ${e.message}`));
        },
      );
    });
  });
  started.catch(() => undefined);
  return { child, started };
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

export interface SpawnSandboxedNodeOptions {
  /** Absolute path of the script to run. */
  script: string;
  args?: string[];
  /** Directories the script needs to read (its own dir is always added). */
  scriptDirs?: string[];
  /** Extra read-only binds. */
  roBinds?: string[];
  /** Optional read-write directory (the run's workspace). */
  workspace?: string;
  cwd?: string;
  env?: Record<string, string>;
  envAllow?: string[];
  hiddenPaths?: string[];
  /** Node itself reserves a lot of address space; no address-space limit unless given. */
  limits?: SandboxLimits;
  nodeArgs?: string[];
  serialization?: 'json' | 'advanced';
  mode?: SandboxMode;
}

/**
 * Spawn `node script` under the same builder with an IPC channel (fd 3). bwrap's --clearenv wipes
 * NODE_CHANNEL_FD, so it is set again explicitly; the descriptor itself passes through bwrap.
 * Returns the ChildProcess (send/on('message') work as usual; kill() tears the sandbox down).
 */
export function spawnSandboxedNode(o: SpawnSandboxedNodeOptions): ChildProcess {
  if (typeof o.script !== 'string' || !path.isAbsolute(o.script)) throw new ClawguardError('bad_request', 'script must be an absolute path');
  const bwrap = requireSandbox(o.mode, 'process isolation');
  const node = realpathSync(process.execPath);
  const script = realpathSync(o.script);
  const serialization = o.serialization ?? 'json';
  const argv = [node, ...(o.nodeArgs ?? []), script, ...(o.args ?? [])];
  const workspace = o.workspace ? realDir(o.workspace, 'workspace') : undefined;
  const cwd = o.cwd ?? workspace ?? '/tmp';
  const env = buildEnv(o.env, o.envAllow, {});
  if (!bwrap) {
    return spawn(node, argv.slice(1), { cwd, env, stdio: shieldStdio(['pipe', 'pipe', 'pipe', 'ipc']) as StdioOptions, serialization });
  }
  env.NODE_CHANNEL_FD = '3';
  env.NODE_CHANNEL_SERIALIZATION_MODE = serialization;
  const dirs = new Set<string>([path.dirname(node), path.dirname(script), ...(o.scriptDirs ?? []).map((d) => realDir(d, 'script dir'))]);
  // /usr is already bound; binding a subdirectory of it again is harmless but pointless.
  const roBinds = [...dirs].filter((d) => !isWithin(d, '/usr')).concat(o.roBinds ?? []);
  const { processes, fileSizeMb, tmpSizeMb } = DEFAULT_LIMITS;
  const limits: SandboxLimits = { processes, fileSizeMb, tmpSizeMb, ...stripUndefined(o.limits ?? {}) };
  const { child, started } = launch(bwrap, { argv, workspace, cwd, roBinds, hiddenPaths: (o.hiddenPaths ?? []).map((h) => expandTilde(h)), env, limits, stdio: ['pipe', 'pipe', 'pipe', 'ipc'], serialization });
  // A failed limit set-up surfaces like a failed spawn: as the child's 'error' event.
  started.catch((e) => {
    if (e instanceof ClawguardError && e.code === 'sandbox_unavailable') child.emit('error', e);
  });
  return child;
}

function stripUndefined(l: SandboxLimits): SandboxLimits {
  return Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as SandboxLimits;
}

/** What the sandbox can do here, for `clawguard status` and the healthz details. */
export function sandboxStatus(mode: SandboxMode = 'strict'): {
  mode: SandboxMode;
  available: boolean;
  reason?: string;
  bubblewrap: ReturnType<typeof detectBubblewrap>;
  prlimit: string | null;
  processLimit: ReturnType<typeof processLimitStatus>;
} {
  const bubblewrap = detectBubblewrap();
  const prlimit = findPrlimit();
  const processLimit = processLimitStatus();
  const reason = mode === 'off' ? 'sandbox mode is "off": exec and process isolation run without isolation' : !bubblewrap.available ? bubblewrap.reason : !prlimit ? 'prlimit (util-linux) is not installed' : undefined;
  return { mode, available: mode === 'off' || (bubblewrap.available && !!prlimit), ...(reason ? { reason } : {}), bubblewrap, prlimit, processLimit };
}
