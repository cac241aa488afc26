/** The model request/reply shape agents see, whatever the provider behind it. */
import { z } from 'zod';

export const chatMessage = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().default(''),
  toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.unknown() })).optional(),
  toolCallId: z.string().optional(),
});

export const chatRequest = z
  .object({
    messages: z.array(chatMessage).min(1),
    tools: z.array(z.object({ name: z.string().min(1), description: z.string().default(''), parameters: z.record(z.unknown()).default({ type: 'object', properties: {} }) })).optional(),
    maxTokens: z.number().int().positive().max(200_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
  })
  .strict();

export type ChatMessage = z.infer<typeof chatMessage>;
export type ChatRequest = z.infer<typeof chatRequest>;

export interface ChatReply {
  content: string;
  toolCalls: Array<{ id: string; name: string; arguments: unknown }>;
  stopReason: string;
  model: string;
  usage?: { inputTokens?: number; outputTokens?: number };
}
