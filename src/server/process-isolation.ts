/**
 * Wires the runtime's process isolation to the sandbox module's one bubblewrap builder.
 * Fails closed: without bubblewrap, process isolation is unavailable unless sandbox.mode is "off".
 */
import { dirname } from 'node:path';
import type { ClawguardConfig } from '../config/index.js';
import type { SandboxedNodeSpawner } from '../runtime/index.js';
import { detectBubblewrap, memoryLimitStatus, spawnSandboxedNode } from '../sandbox/index.js';

export function processIsolation(config: ClawguardConfig, stateDir: string): {
  spawn: SandboxedNodeSpawner;
  available: () => { ok: boolean; reason?: string };
  extraRoPaths: () => string[];
} {
  const off = config.sandbox.mode === 'off';
  const agentDirs = [...new Set(Object.values(config.agents).filter((p) => p.isolation === 'process' && p.entry).map((p) => dirname(p.entry!)))];
  return {
    available: () => {
      if (off) return { ok: true };
      const b = detectBubblewrap();
      if (!b.available) return { ok: false, reason: `bubblewrap unavailable (${b.reason ?? 'not found'}); process isolation refuses to run unless sandbox.mode is "off"` };
      // Only the V8 heap is bounded without a memory cgroup: fail closed (see sandbox/memory-limit.ts).
      const m = memoryLimitStatus();
      return m.kind === 'none' ? { ok: false, reason: `no memory cgroup for the sandbox: ${m.reason}` } : { ok: true };
    },
    extraRoPaths: () => agentDirs,
    // sandbox.mode "off" (explicit) gives a plain child process, still with its own heap limit.
    spawn: ({ script, nodeArgs, roPaths, memoryMb }) => spawnSandboxedNode({ script, nodeArgs, roBinds: roPaths, hiddenPaths: [stateDir], memoryMb, mode: off ? 'off' : 'strict' }),
  };
}
