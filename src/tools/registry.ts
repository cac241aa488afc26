/** The catalogue of tools agents can call. Each tool validates its arguments and applies its own guard. */
import type { ZodType, ZodTypeDef } from 'zod';
import { ClawguardError } from '../errors/index.js';
import type { ToolCallContext, ToolExecutor } from '../pipeline/index.js';

export interface ToolDefinition<A = unknown> {
  name: string;
  description: string;
  args: ZodType<A, ZodTypeDef, unknown>;
  /** The resource the call acts on, for audit and policy (a path, a host, a command). */
  resource?: (args: A) => string | undefined;
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

  resourceOf(name: string, args: unknown): string | undefined {
    const t = this.tools.get(name);
    if (!t?.resource) return undefined;
    const parsed = t.args.safeParse(args);
    return parsed.success ? t.resource(parsed.data as never) : undefined;
  }

  async execute(name: string, args: unknown, ctx: ToolCallContext): Promise<unknown> {
    const t = this.tools.get(name);
    if (!t) throw new ClawguardError('tool_not_found', `no tool named "${name}"`);
    const parsed = t.args.safeParse(args ?? {});
    if (!parsed.success) {
      const first = parsed.error.issues[0]!;
      throw new ClawguardError('bad_request', `${name}: argument ${first.path.join('.') || '(root)'}: ${first.message}`);
    }
    return t.execute(parsed.data as never, ctx);
  }
}
