/**
 * Process isolation's child: `node script` inside the same sandbox as exec.run (see launch.ts), with
 * the gateway's channel on descriptor 3.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { DEFAULT_LIMITS, type SandboxLimits } from './limits.js';
import { expandTilde, isWithin } from './path-canonical.js';
import { shieldStdio } from './fd-leaks.js';
import { buildEnv, launch, realDir, requireSandbox, stripUndefined, type SandboxMode } from './launch.js';

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
  /** 'ipc': Node's own IPC channel on fd 3; 'pipe': a plain socket on fd 3 (child.stdio[3]) for the caller's own framing. */
  channel?: 'ipc' | 'pipe';
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
  const fd3 = o.channel === 'pipe' ? 'pipe' : 'ipc';
  if (!bwrap) {
    return spawn(node, argv.slice(1), { cwd, env, stdio: shieldStdio(['pipe', 'pipe', 'pipe', fd3]) as StdioOptions, ...(fd3 === 'ipc' ? { serialization } : {}) });
  }
  if (fd3 === 'ipc') {
    env.NODE_CHANNEL_FD = '3';
    env.NODE_CHANNEL_SERIALIZATION_MODE = serialization;
  }
  const dirs = new Set<string>([path.dirname(node), path.dirname(script), ...(o.scriptDirs ?? []).map((d) => realDir(d, 'script dir'))]);
  // /usr is already bound; binding a subdirectory of it again is harmless but pointless.
  const roBinds = [...dirs].filter((d) => !isWithin(d, '/usr')).concat(o.roBinds ?? []);
  const { processes, fileSizeMb, tmpSizeMb } = DEFAULT_LIMITS;
  const limits: SandboxLimits = { processes, fileSizeMb, tmpSizeMb, ...stripUndefined(o.limits ?? {}) };
  const { child, started } = launch(bwrap, { argv, workspace, cwd, roBinds, hiddenPaths: (o.hiddenPaths ?? []).map((h) => expandTilde(h)), env, limits, stdio: ['pipe', 'pipe', 'pipe', fd3], ...(fd3 === 'ipc' ? { serialization } : {}) });
  // A failed limit set-up surfaces like a failed spawn: as the child's 'error' event.
  started.catch((e) => {
    if (e instanceof ClawguardError && e.code === 'sandbox_unavailable') child.emit('error', e);
  });
  return child;
}
