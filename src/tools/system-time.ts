import { z } from 'zod';
import type { ToolDefinition } from './registry.js';

/** The gateway's clock: harmless, and what the demo profile may call. */
export const systemTimeTool: ToolDefinition<Record<string, never>> = {
  name: 'system.time',
  description: 'Current time at the gateway (ISO 8601 and Unix milliseconds).',
  args: z.object({}).strict() as unknown as z.ZodType<Record<string, never>>,
  async execute() {
    const now = new Date();
    return { iso: now.toISOString(), unixMs: now.getTime() };
  },
};
