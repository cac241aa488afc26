/**
 * Wires the runtime's process isolation to the sandbox module's one bubblewrap builder.
 * Fails closed: without bubblewrap, process isolation is unavailable unless sandbox.mode is "off".
 */
import { dirname } from 'node:path';
import type { ClawguardConfig } from '../config/index.js';
import type { SandboxedNodeSpawner } from '../runtime/index.js';
import { detectBubblewrap, spawnSandboxedNode } from '../sandbox/index.js';

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
      return b.available ? { ok: true } : { ok: false, reason: `bubblewrap unavailable (${b.reason ?? 'not found'}); process isolation refuses to run unless sandbox.mode is "off"` };
    },
    extraRoPaths: () => agentDirs,
    // sandbox.mode "off" (explicit) gives a plain child process, still with its own heap limit.
    spawn: ({ script, nodeArgs, roPaths }) => spawnSandboxedNode({ script, nodeArgs, roBinds: roPaths, hiddenPaths: [stateDir], mode: off ? 'off' : 'strict' }),
  };
}
