/**
 * The one way a sandbox is started: bubblewrap built by buildBwrapArgs, the command under prlimit,
 * a pids cgroup when the gateway is root, a memory cgroup when asked (process isolation), inherited
 * descriptors shielded, the seccomp filter always.
 * bwrap's own arguments (every bind and mask) reach it on a descriptor (`--args FD`), so no process
 * inside can read them from /proc/1/cmdline. exec.run and process isolation both launch through here.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { buildBwrapArgs, detectBubblewrap, systemLayout, type Bind } from './bwrap.js';
import { ensureMaskPoints } from './bwrap-masks.js';
import { requireSeccomp, seccompStatus } from './seccomp.js';
import { DEFAULT_LIMITS, PidsCgroup, findPrlimit, processLimitStatus, rlimitPrefix, type SandboxLimits } from './limits.js';
import { shieldStdio } from './fd-leaks.js';
import { MemoryCgroup, NODE_SLACK_MB, memoryLimitStatus } from './memory-limit.js';

export type SandboxMode = 'strict' | 'standard' | 'off';

export const DEFAULT_ENV_ALLOW = ['PATH', 'LANG', 'LC_ALL', 'TZ'];
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

export function requireSandbox(mode: SandboxMode | undefined, what: string): string | undefined {
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

export function realDir(p: string, what: string): string {
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

export function buildEnv(env: Record<string, string> | undefined, envAllow: string[] | undefined, extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { PATH: SANDBOX_PATH, HOME: '/tmp', ...extra };
  for (const name of envAllow ?? DEFAULT_ENV_ALLOW) {
    const v = process.env[name];
    if (v !== undefined && name !== 'PATH') out[name] = v;
  }
  // The host PATH may name directories that do not exist inside; keep the sandbox PATH unless asked.
  for (const [k, v] of Object.entries(env ?? {})) out[k] = v;
  return out;
}

export interface LaunchOptions {
  argv: string[];
  workspace?: string;
  cwd: string;
  roBinds: Array<string | Bind>;
  hiddenPaths: string[];
  env: Record<string, string>;
  /** Already merged with the caller's defaults; undefined entries are not set. */
  limits: SandboxLimits;
  stdio: Array<'pipe' | 'ignore'>;
  /** When set, the sandbox runs in a memory cgroup of memoryMb + Node's slack, or is refused (fail closed). */
  memoryMb?: number;
}

export interface Launched {
  child: ChildProcess;
  /** Rejects (after killing the sandbox) if the process or memory limit could not be applied. */
  started: Promise<void>;
  /** The sandbox's memory cgroup (when memoryMb was given); `oomKilled` is valid once the child exited. */
  memory?: MemoryCgroup;
}


/**
 * Spawn bwrap with the one builder; the command runs under prlimit. When a pids or memory cgroup is in
 * use, bwrap reports its child's pid on an info descriptor and waits on a block descriptor; that child
 * is moved into the cgroups before the command is allowed to start, so every descendant is counted.
 */
export function launch(bwrap: string, o: LaunchOptions): Launched {
  const seccomp = requireSeccomp('sandbox');
  const sys = systemLayout(o.hiddenPaths);
  if (o.workspace) ensureMaskPoints(o.hiddenPaths, [o.workspace]);
  const processes = o.limits.processes ?? DEFAULT_LIMITS.processes;
  const cgroup = PidsCgroup.acquire(processes + 2); // + the sandbox's pid-1 reaper, slack
  let memory: MemoryCgroup | undefined;
  if (o.memoryMb !== undefined) {
    try {
      memory = MemoryCgroup.acquire((o.memoryMb + NODE_SLACK_MB) * 1024 * 1024, cgroup);
    } catch (e) {
      if (cgroup) void cgroup.release();
      throw new ClawguardError('sandbox_unavailable', `process isolation refused: no memory cgroup for the sandbox (${(e as Error).message || memoryLimitStatus().reason})`);
    }
  }
  const groups = [cgroup, memory].filter((g): g is PidsCgroup | MemoryCgroup => !!g);
  const releaseAll = () => {
    for (const g of groups) void g.release();
  };
  // Descriptors after the caller's: bwrap's arguments, the seccomp program, then the cgroup handshake.
  const argsFd = o.stdio.length;
  const seccompFd = argsFd + 1;
  const syncFd = seccompFd + 1;
  const stdio = shieldStdio<'pipe' | 'ignore'>([...o.stdio, 'pipe', 'pipe', ...(groups.length ? (['pipe', 'pipe'] as const) : [])]) as StdioOptions;
  const command = [...rlimitPrefix(o.limits, findPrlimit()!), ...o.argv];
  let args: string[];
  try {
    args = buildBwrapArgs(
    {
      argv: command,
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
      seccompFd,
      ...(groups.length ? { syncFds: { info: syncFd, block: syncFd + 1 } } : {}),
    },
    detectBubblewrap().features,
    );
  } catch (e) {
    releaseAll();
    throw e;
  }
  let child: ChildProcess;
  try {
    // The options (binds, masks) go on the descriptor; bwrap wants the command itself on its command line.
    child = spawn(bwrap, ['--args', String(argsFd), '--', ...command], { cwd: '/', env: {}, stdio });
  } catch (e) {
    releaseAll();
    throw e;
  }
  const options = args.slice(0, args.length - command.length - 1);
  for (const [fd, data] of [[argsFd, Buffer.from(`${options.join('\0')}\0`)], [seccompFd, seccomp]] as const) {
    const w = child.stdio[fd] as NodeJS.WritableStream | null;
    w?.on('error', () => undefined); // bwrap gone early: its exit says why
    w?.end(data);
  }
  if (!groups.length) return { child, started: Promise.resolve() };
  child.once('exit', () => {
    // Read the OOM counter before the group is parked for reuse: it is how the run learns why it died.
    memory?.sampleAtExit();
    releaseAll();
  });
  const info = child.stdio[syncFd] as NodeJS.ReadableStream & { destroy(): void };
  const block = child.stdio[syncFd + 1] as NodeJS.WritableStream & { destroy(): void };
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
      const pid = Number(m[1]);
      (async () => {
        for (const g of groups) {
          try {
            await g.join(pid);
          } catch (e) {
            const what = g instanceof MemoryCgroup ? 'memory limit (memory cgroup' : 'process limit (pids cgroup';
            throw new Error(`could not apply the ${what} ${g.dir}): ${(e as Error).message}`);
          }
        }
      })().then(
        () => {
          block.end('go');
          resolve();
        },
        (e: Error) => {
          child.kill('SIGKILL');
          reject(new ClawguardError('sandbox_unavailable', e.message));
        },
      );
    });
  });
  started.catch(() => undefined);
  return { child, started, ...(memory ? { memory } : {}) };
}

export function stripUndefined(l: SandboxLimits): SandboxLimits {
  return Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as SandboxLimits;
}

/** Who files created in a sandbox belong to on the host, and what keeps them harmless. */
function privilegeStatus(seccomp: ReturnType<typeof seccompStatus>): { gatewayUid: number | null; meaning: string; seccomp: ReturnType<typeof seccompStatus> } {
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const owner = uid === 0 ? 'root' : uid === null ? 'the gateway user' : `uid ${uid}`;
  const meaning =
    `the gateway runs as ${uid === 0 ? 'root' : owner}: the sandbox's uid 65534 maps to ${owner} outside, so files an agent creates in its workspace belong to ${owner} on the host` +
    (uid === 0 ? ' (a setuid bit on one would make it a root shell for any local user)' : '') +
    (seccomp.available ? '; setuid/setgid bits and file capabilities are refused by the seccomp filter' : `; ${seccomp.reason ?? 'no seccomp filter'}`);
  return { gatewayUid: uid, meaning, seccomp };
}

/** What the sandbox can do here, for `clawguard status` and the healthz details. */
export function sandboxStatus(mode: SandboxMode = 'strict'): {
  mode: SandboxMode;
  available: boolean;
  reason?: string;
  bubblewrap: ReturnType<typeof detectBubblewrap>;
  prlimit: string | null;
  processLimit: ReturnType<typeof processLimitStatus>;
  /** How a process-isolated agent's memory is bounded (a memory cgroup), or why process isolation refuses. */
  memoryLimit: ReturnType<typeof memoryLimitStatus>;
  privileges: ReturnType<typeof privilegeStatus>;
} {
  const bubblewrap = detectBubblewrap();
  const prlimit = findPrlimit();
  const processLimit = processLimitStatus();
  const seccomp = seccompStatus();
  const reason =
    mode === 'off' ? 'sandbox mode is "off": exec and process isolation run without isolation'
    : !bubblewrap.available ? bubblewrap.reason
    : !prlimit ? 'prlimit (util-linux) is not installed'
    : !seccomp.available ? seccomp.reason
    : undefined;
  return { mode, available: mode === 'off' || (bubblewrap.available && !!prlimit && seccomp.available), ...(reason ? { reason } : {}), bubblewrap, prlimit, processLimit, memoryLimit: memoryLimitStatus(), privileges: privilegeStatus(seccomp) };
}
