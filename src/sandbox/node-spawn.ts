/**
 * Process isolation's child: `node script` inside the same sandbox as exec.run (see launch.ts), with
 * a plain socket pair on descriptor 3 for the caller's own framing. Never Node's IPC channel: nothing
 * puts NODE_CHANNEL_FD in a child's environment, so `process.send` does not exist inside and the
 * gateway never runs Node's IPC message handling on bytes an agent chose.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { DEFAULT_LIMITS, type SandboxLimits } from './limits.js';
import { expandTilde, isWithin } from './path-canonical.js';
import { shieldStdio } from './fd-leaks.js';
import { buildEnv, launch, realDir, requireSandbox, stripUndefined, type SandboxMode } from './launch.js';
import type { MemoryCgroup } from './memory-limit.js';

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
  /**
   * Memory budget of the whole sandbox (a memory cgroup of memoryMb + Node's slack). When given and no
   * memory cgroup can be had, the spawn is refused with sandbox_unavailable. Not applied in mode "off".
   */
  memoryMb?: number;
  mode?: SandboxMode;
}

/** The child, with the sandbox's memory cgroup when one was asked for (its `oomKilled` is valid after exit). */
export type SandboxedChild = ChildProcess & { readonly memoryCgroup?: MemoryCgroup };

/**
 * Spawn `node script` under the same builder with a socket pair on fd 3 (child.stdio[3]).
 * kill() tears the sandbox down.
 */
export function spawnSandboxedNode(o: SpawnSandboxedNodeOptions): SandboxedChild {
  if (typeof o.script !== 'string' || !path.isAbsolute(o.script)) throw new ClawguardError('bad_request', 'script must be an absolute path');
  const bwrap = requireSandbox(o.mode, 'process isolation');
  const node = realpathSync(process.execPath);
  const script = realpathSync(o.script);
  const argv = [node, ...(o.nodeArgs ?? []), script, ...(o.args ?? [])];
  const workspace = o.workspace ? realDir(o.workspace, 'workspace') : undefined;
  const cwd = o.cwd ?? workspace ?? '/tmp';
  const env = buildEnv(o.env, o.envAllow, {});
  // Whatever the caller passes, the child never learns of an IPC channel.
  for (const k of Object.keys(env)) if (k.startsWith('NODE_CHANNEL_')) delete env[k];
  if (!bwrap) {
    return spawn(node, argv.slice(1), { cwd, env, stdio: shieldStdio(['pipe', 'pipe', 'pipe', 'pipe']) as StdioOptions });
  }
  const dirs = new Set<string>([path.dirname(node), path.dirname(script), ...(o.scriptDirs ?? []).map((d) => realDir(d, 'script dir'))]);
  // /usr is already bound; binding a subdirectory of it again is harmless but pointless.
  const roBinds = [...dirs].filter((d) => !isWithin(d, '/usr')).concat(o.roBinds ?? []);
  const { processes, fileSizeMb, tmpSizeMb } = DEFAULT_LIMITS;
  const limits: SandboxLimits = { processes, fileSizeMb, tmpSizeMb, ...stripUndefined(o.limits ?? {}) };
  const { child, started, memory } = launch(bwrap, {
    argv,
    workspace,
    cwd,
    roBinds,
    hiddenPaths: (o.hiddenPaths ?? []).map((h) => expandTilde(h)),
    env,
    limits,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    ...(o.memoryMb !== undefined ? { memoryMb: o.memoryMb } : {}),
  });
  // A failed limit set-up surfaces like a failed spawn: as the child's 'error' event.
  started.catch((e) => {
    if (e instanceof ClawguardError && e.code === 'sandbox_unavailable') child.emit('error', e);
  });
  if (memory) Object.defineProperty(child, 'memoryCgroup', { value: memory, enumerable: false });
  return child;
}
