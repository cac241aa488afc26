/**
 * The built-in tool-calling loop, run for profiles without `entry`. It is ordinary agent code
 * and runs inside the same isolated instance as any other agent: model → tool calls → results →
 * … → final answer, bounded by the profile's maxSteps.
 */
export function toolLoopAgentSource(maxSteps: number, tools: Array<{ name: string; description: string }>): string {
  return `
const MAX_STEPS = ${JSON.stringify(maxSteps)};
const TOOLS = ${JSON.stringify(tools.map((t) => ({ name: t.name, description: t.description, parameters: { type: 'object', additionalProperties: true } })))};
export default async function toolLoop(input, ctx) {
  const messages = [];
  if (typeof input === 'string') messages.push({ role: 'user', content: input });
  else if (input && Array.isArray(input.messages)) messages.push(...input.messages);
  else if (input && typeof input.prompt === 'string') {
    if (typeof input.system === 'string') messages.push({ role: 'system', content: input.system });
    messages.push({ role: 'user', content: input.prompt });
  } else messages.push({ role: 'user', content: JSON.stringify(input) });
  const calls = [];
  for (let step = 1; step <= MAX_STEPS; step++) {
    const reply = await ctx.model.chat({ messages, ...(TOOLS.length ? { tools: TOOLS } : {}) });
    if (!reply.toolCalls || reply.toolCalls.length === 0) return { answer: reply.content, steps: step, toolCalls: calls };
    messages.push({ role: 'assistant', content: reply.content || '', toolCalls: reply.toolCalls });
    for (const call of reply.toolCalls) {
      const result = await ctx.tools.call(call.name, call.arguments);
      calls.push({ name: call.name, ok: result.ok });
      messages.push({ role: 'tool', toolCallId: call.id, content: JSON.stringify(result) });
    }
  }
  return { answer: null, steps: MAX_STEPS, toolCalls: calls, stopped: 'step_limit' };
}
`;
}
