import type { ModelProviderConfig, ProfileConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { auditSize, digestOf, MAX_AUDITED_ARGS_BYTES } from '../audit-args.js';
import type { ToolDefinition } from '../registry.js';
import type { Principal } from '../../pipeline/index.js';
import type { EgressGuard } from '../../sandbox/index.js';
import { type ApiKeyResolver, chat, resolveModel } from './providers.js';
import { checkProvider } from './transport.js';
import { type ChatRequest, chatRequest } from './types.js';

/** Key from the environment variable the provider names; the secrets broker supersedes this. */
export const envApiKeyResolver: ApiKeyResolver = async (p) => (p.apiKeyEnv ? process.env[p.apiKeyEnv] : undefined);

/**
 * model.chat: always the profile's own model, through the gateway, with the gateway's key, through
 * the principal's egress guard narrowed to the provider's origin (transport.ts).
 */
export function modelChatTool(deps: {
  profiles: () => Record<string, ProfileConfig>;
  providers: () => Record<string, ModelProviderConfig>;
  apiKey: ApiKeyResolver;
  /** The principal's egress guard (SandboxDirectory), the one its http.fetch calls go through. */
  egressFor: (principal: Principal) => EgressGuard;
}): ToolDefinition<ChatRequest> {
  return {
    name: 'model.chat',
    description: "Chat with the profile's configured model (tool calls included).",
    args: chatRequest,
    resource: () => undefined,
    // The conversation is data for the profile's own model: kept whole while it fits, else by digest.
    audit: (a) =>
      auditSize(a) <= MAX_AUDITED_ARGS_BYTES
        ? a
        : { ...a, messages: { count: a.messages.length, ...digestOf(JSON.stringify(a.messages)) }, tools: a.tools?.map((t) => t.name) },
    async execute(args, ctx) {
      const profile = ctx.principal.profile ? deps.profiles()[ctx.principal.profile] : undefined;
      if (!profile?.model) throw new ClawguardError('model_error', 'this profile has no model configured');
      const { provider, model } = resolveModel(profile.model, deps.providers());
      const egress = deps.egressFor(ctx.principal);
      // A provider the guard refuses never gets its key fetched (nor a secret.use recorded for it).
      await checkProvider(provider, egress, ctx.signal);
      const key = await deps.apiKey(provider);
      return chat(provider, model, key, args, { egress, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    },
  };
}
