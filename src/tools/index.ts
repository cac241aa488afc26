export { ToolRegistry, type ToolDefinition } from './registry.js';
export { systemTimeTool } from './system-time.js';
export { modelChatTool, envApiKeyResolver } from './model/tool.js';
export { resolveModel, chat, type ApiKeyResolver } from './model/providers.js';
export type { ChatReply, ChatRequest, ChatMessage } from './model/types.js';
export { SandboxDirectory, type PrincipalSandbox } from './sandboxes.js';
export { fsTools } from './fs-tools.js';
export { httpFetchTool, type SecretInjector } from './http-fetch.js';
export { execRunTool } from './exec-run.js';
