/** exec.run: a command under bubblewrap in the principal's workspace (fail closed without bwrap). */
import { z } from 'zod';
import { ClawguardError } from '../errors/index.js';
import { runSandboxed } from '../sandbox/index.js';
import { digestOf } from './audit-args.js';
import type { ToolDefinition } from './registry.js';
import type { SandboxDirectory } from './sandboxes.js';

const args = z
  .object({
    argv: z.array(z.string().max(65536)).min(1).max(1024),
    cwd: z.string().min(1).optional(),
    env: z.record(z.string()).optional(),
    stdin: z.string().optional(),
    timeoutMs: z.number().int().positive().optional(),
  })
  .strict();
type Args = z.infer<typeof args>;

export function execRunTool(sandboxes: SandboxDirectory): ToolDefinition<Args> {
  return {
    name: 'exec.run',
    description: 'Run a command in a bubblewrap sandbox: no network, workspace read-write, system read-only.',
    args,
    resource: (a) => a.argv[0],
    // The whole command line is what runs: it is kept whole (the registry refuses a call too large for that).
    audit: ({ stdin, ...rest }) => ({ ...rest, ...(stdin !== undefined ? { stdin: digestOf(stdin) } : {}) }),
    async execute(a, ctx) {
      const sb = sandboxes.for(ctx.principal);
      if (!sb.workspace) throw new ClawguardError('sandbox_unavailable', 'exec.run: no workspace (set agents.<name>.workspace or sandbox.fileAccess.allowedPaths)');
      const cwd = a.cwd ? await sb.paths.resolve(a.cwd, 'write') : undefined;
      const e = sb.config.exec;
      const r = await runSandboxed({
        argv: a.argv,
        workspace: sb.workspace,
        ...(cwd ? { cwd } : {}),
        ...(a.env ? { env: a.env } : {}),
        envAllow: e.envAllow,
        ...(a.stdin !== undefined ? { stdin: a.stdin } : {}),
        timeoutMs: Math.min(a.timeoutMs ?? e.timeoutMs, e.timeoutMs),
        maxOutputBytes: e.maxOutputBytes,
        hiddenPaths: sb.hiddenPaths,
        limits: { cpuSeconds: e.cpuSeconds, addressSpaceMb: e.addressSpaceMb, processes: e.processes, fileSizeMb: e.fileSizeMb },
        mode: sb.config.mode,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      return r;
    },
  };
}
