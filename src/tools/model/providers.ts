/**
 * Model providers: OpenAI-compatible chat completions (vLLM, llama.cpp, Ollama, OpenAI) and the
 * Anthropic Messages API. The API key is resolved by the gateway and never reaches the agent; the
 * call goes through the egress guard to the provider's origin only (transport.ts).
 */
import type { ModelProviderConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { post, type ModelTransport } from './transport.js';
import type { ChatReply, ChatRequest } from './types.js';

export type ApiKeyResolver = (provider: ModelProviderConfig) => Promise<string | undefined>;

const BUILTIN: Record<string, Omit<ModelProviderConfig, 'name'>> = {
  openai: { type: 'openai-compatible', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY', timeoutMs: 60_000, headers: {} },
  anthropic: { type: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY', timeoutMs: 60_000, headers: {} },
  // A loopback server by definition: naming "local/..." in a profile says so.
  local: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/v1', timeoutMs: 120_000, headers: {}, allowPrivate: true },
};

/** "local/gpt-oss-120b" → provider "local", model "gpt-oss-120b"; "claude-*" → anthropic; else openai. */
export function resolveModel(model: string, providers: Record<string, ModelProviderConfig>): { provider: ModelProviderConfig; model: string } {
  const slash = model.indexOf('/');
  if (slash > 0) {
    const name = model.slice(0, slash);
    const p = providers[name] ?? (BUILTIN[name] ? { name, ...BUILTIN[name]! } : undefined);
    if (p) return { provider: p, model: model.slice(slash + 1) };
  }
  const name = model.startsWith('claude') ? 'anthropic' : 'openai';
  return { provider: providers[name] ?? { name, ...BUILTIN[name]! }, model };
}

function parseArgs(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? {};
  try {
    return JSON.parse(v);
  } catch {
    return { _raw: v };
  }
}

async function chatOpenAI(p: ModelProviderConfig, model: string, key: string | undefined, req: ChatRequest, t: ModelTransport): Promise<ChatReply> {
  const body = {
    model,
    messages: req.messages.map((m) =>
      m.role === 'tool'
        ? { role: 'tool', tool_call_id: m.toolCallId, content: m.content }
        : m.toolCalls?.length
          ? { role: m.role, content: m.content, tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments ?? {}) } })) }
          : { role: m.role, content: m.content },
    ),
    ...(req.tools?.length ? { tools: req.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } })) } : {}),
    ...(req.maxTokens ? { max_tokens: req.maxTokens } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
  };
  const headers: Record<string, string> = { ...p.headers, ...(key ? { authorization: `Bearer ${key}` } : {}) };
  const r = (await post(p, `${p.baseUrl}/chat/completions`, headers, body, t)) as {
    choices?: Array<{ message?: { content?: string | null; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }> }; finish_reason?: string }>;
    usage?: { prompt_tokens?: number; completion_tokens?: number };
    model?: string;
  };
  const choice = r.choices?.[0];
  if (!choice?.message) throw new ClawguardError('model_error', 'model reply has no choices[0].message');
  return {
    content: choice.message.content ?? '',
    toolCalls: (choice.message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: parseArgs(c.function.arguments) })),
    stopReason: choice.finish_reason ?? 'stop',
    model: r.model ?? model,
    ...(r.usage ? { usage: { ...(r.usage.prompt_tokens !== undefined ? { inputTokens: r.usage.prompt_tokens } : {}), ...(r.usage.completion_tokens !== undefined ? { outputTokens: r.usage.completion_tokens } : {}) } } : {}),
  };
}

async function chatAnthropic(p: ModelProviderConfig, model: string, key: string | undefined, req: ChatRequest, t: ModelTransport): Promise<ChatReply> {
  const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
  const messages = req.messages
    .filter((m) => m.role !== 'system')
    .map((m) => {
      if (m.role === 'tool') return { role: 'user', content: [{ type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }] };
      if (m.role === 'assistant' && m.toolCalls?.length) {
        return { role: 'assistant', content: [...(m.content ? [{ type: 'text', text: m.content }] : []), ...m.toolCalls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments ?? {} }))] };
      }
      return { role: m.role, content: m.content };
    });
  const body = {
    model,
    max_tokens: req.maxTokens ?? 4096,
    ...(system ? { system } : {}),
    messages,
    ...(req.tools?.length ? { tools: req.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters })) } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
  };
  const headers: Record<string, string> = { ...p.headers, 'anthropic-version': '2023-06-01', ...(key ? { 'x-api-key': key } : {}) };
  const r = (await post(p, `${p.baseUrl}/v1/messages`, headers, body, t)) as {
    content?: Array<{ type: string; text?: string; id?: string; name?: string; input?: unknown }>;
    stop_reason?: string;
    model?: string;
    usage?: { input_tokens?: number; output_tokens?: number };
  };
  if (!Array.isArray(r.content)) throw new ClawguardError('model_error', 'model reply has no content array');
  return {
    content: r.content.filter((b) => b.type === 'text').map((b) => b.text ?? '').join(''),
    toolCalls: r.content.filter((b) => b.type === 'tool_use').map((b) => ({ id: String(b.id), name: String(b.name), arguments: b.input ?? {} })),
    stopReason: r.stop_reason ?? 'end_turn',
    model: r.model ?? model,
    ...(r.usage ? { usage: { ...(r.usage.input_tokens !== undefined ? { inputTokens: r.usage.input_tokens } : {}), ...(r.usage.output_tokens !== undefined ? { outputTokens: r.usage.output_tokens } : {}) } } : {}),
  };
}

export async function chat(provider: ModelProviderConfig, model: string, key: string | undefined, req: ChatRequest, t: ModelTransport): Promise<ChatReply> {
  return provider.type === 'anthropic' ? chatAnthropic(provider, model, key, req, t) : chatOpenAI(provider, model, key, req, t);
}
