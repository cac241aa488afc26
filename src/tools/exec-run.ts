/**
 * exec.run: a command under bubblewrap in the principal's workspace (fail closed without bwrap).
 * `prepare` makes the call what will really run: argv[0] resolved against the sandbox's fixed PATH
 * (absolute from then on), cwd canonical, and the environment checked against the names agents may
 * set (sandbox.exec.agentEnv); policy and audit see exactly that.
 */
import { z } from 'zod';
import { ClawguardError } from '../errors/index.js';
import { checkAgentEnv, resolveCommand, runSandboxed } from '../sandbox/index.js';
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
  const sandboxOf = (principal: Parameters<SandboxDirectory['for']>[0]) => {
    const sb = sandboxes.for(principal);
    if (!sb.workspace) throw new ClawguardError('sandbox_unavailable', 'exec.run: no workspace (set agents.<name>.workspace or sandbox.fileAccess.allowedPaths)');
    return { sb, workspace: sb.workspace };
  };
  return {
    name: 'exec.run',
    description: 'Run a command in a bubblewrap sandbox: no network, workspace read-write, system read-only.',
    args,
    prepare(a, ctx) {
      const sb = sandboxes.for(ctx.principal);
      checkAgentEnv(a.env, sb.config.exec.agentEnv);
      // Without a workspace the call cannot run (execute says so), but the policy decides first.
      const workspace = sb.workspace;
      if (!workspace) return a;
      const cwd = a.cwd !== undefined ? sb.paths.canonical(a.cwd, 'read') : undefined;
      const argv = [resolveCommand(a.argv[0]!, cwd ?? workspace), ...a.argv.slice(1)];
      return { ...a, argv, ...(cwd !== undefined ? { cwd } : {}) };
    },
    resource: (a) => a.argv[0],
    // The whole command line is what runs: it is kept whole (the registry refuses a call too large for that).
    audit: ({ stdin, ...rest }) => ({ ...rest, ...(stdin !== undefined ? { stdin: digestOf(stdin) } : {}) }),
    async execute(a, ctx) {
      const { sb, workspace } = sandboxOf(ctx.principal);
      const e = sb.config.exec;
      return runSandboxed({
        argv: a.argv,
        workspace,
        ...(a.cwd !== undefined ? { cwd: a.cwd } : {}),
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
    },
  };
}
