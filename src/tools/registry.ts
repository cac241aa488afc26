/** The catalogue of tools agents can call. Each tool validates its arguments and applies its own guard. */
import type { ZodType, ZodTypeDef } from 'zod';
import { ClawguardError } from '../errors/index.js';
import type { PreparedCall, ToolCallContext, ToolExecutor } from '../pipeline/index.js';
import { auditSize, MAX_AUDITED_ARGS_BYTES } from './audit-args.js';

export interface ToolDefinition<A = unknown> {
  name: string;
  description: string;
  args: ZodType<A, ZodTypeDef, unknown>;
  /**
   * The canonical form of validated arguments: what the tool will really act on (a real path, a
   * resolved command). The decision, the audit record and execute() all see this form.
   */
  prepare?(args: A, ctx: ToolCallContext): A | Promise<A>;
  /** The resource the call acts on, for audit and policy (a path, a host, a command). */
  resource?: (args: A) => string | undefined;
  /**
   * What the audit keeps of the call: every argument that decides what happens, whole; bulk data
   * (file content, request bodies, stdin) as `digestOf()`. Default: the arguments themselves.
   */
  audit?: (args: A) => unknown;
  execute(args: A, ctx: ToolCallContext): Promise<unknown>;
}

export class ToolRegistry implements ToolExecutor {
  private readonly tools = new Map<string, ToolDefinition<never>>();

  register<A>(tool: ToolDefinition<A>): this {
    this.tools.set(tool.name, tool as unknown as ToolDefinition<never>);
    return this;
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  names(): string[] {
    return [...this.tools.keys()].sort();
  }

  describe(): Array<{ name: string; description: string }> {
    return this.names().map((n) => ({ name: n, description: this.tools.get(n)!.description }));
  }

  private get(name: string): ToolDefinition<never> {
    const t = this.tools.get(name);
    if (!t) throw new ClawguardError('tool_not_found', `no tool named "${name}"`);
    return t;
  }

  async prepare(name: string, args: unknown, ctx: ToolCallContext): Promise<PreparedCall> {
    const t = this.get(name);
    const parsed = t.args.safeParse(args ?? {});
    if (!parsed.success) {
      const first = parsed.error.issues[0]!;
      throw new ClawguardError('bad_request', `${name}: argument ${first.path.join('.') || '(root)'}: ${first.message}`);
    }
    const canonical = t.prepare ? await t.prepare(parsed.data as never, ctx) : (parsed.data as never);
    const audit = t.audit ? t.audit(canonical) : canonical;
    // The audit record must show the whole call; one that cannot be recorded whole is not made.
    const bytes = auditSize(audit);
    if (bytes > MAX_AUDITED_ARGS_BYTES) {
      throw new ClawguardError('bad_request', `${name}: the arguments that decide what this call does take ${bytes} bytes, more than the ${MAX_AUDITED_ARGS_BYTES} the audit record keeps whole; the call is refused`);
    }
    const resource = t.resource?.(canonical);
    return { args: canonical, audit, ...(resource !== undefined ? { resource } : {}) };
  }

  async execute(name: string, call: PreparedCall, ctx: ToolCallContext): Promise<unknown> {
    return this.get(name).execute(call.args as never, ctx);
  }
}
