/**
 * The one pipeline every agent action passes through (NIST SP 800-207 vocabulary):
 * authenticate → build context (PIP) → decide (PDP) → audit (durable) → enforce (PEP) → observe.
 * Each step is a seam with a named interface; later capabilities fill them.
 */
import type { IsolationLevel, TrustLevel } from '../config/index.js';

/**
 * How an action or request came in; they differ only in how identity is established. The same
 * strings are the Cedar context attribute `door`, audit payloads and the rejection flood keys.
 * run: an agent run's isolate; http: an outside agent on the agent API; mcp / plugin: those doors;
 * cli: the CLI acting without a gateway; operator: the operator API (refusals only, not a Principal's).
 */
export const DOORS = ['run', 'http', 'mcp', 'plugin', 'cli', 'operator'] as const;
export type Door = (typeof DOORS)[number];

/** Who is acting, as established by the door's authentication. */
export interface Principal {
  kind: 'run' | 'agent';
  /** Registered agent id, or `run:<runId>` for a run-scoped identity. */
  agentId: string;
  runId?: string;
  profile?: string;
  trustLevel: TrustLevel;
  capabilities: string[];
  /** Roles of a registered agent (policy: `principal in Role::"name"`). */
  roles?: string[];
  isolation?: IsolationLevel;
  door: Door;
}

export interface ActionRequest {
  principal: Principal;
  tool: string;
  args: unknown;
  signal?: AbortSignal;
}

/** Policy information point output: everything a decision may depend on besides the request. */
export interface DecisionContext {
  time: string;
  anomalyScore: number;
  isolation?: IsolationLevel;
  [key: string]: unknown;
}

export type Tier = 'local' | 'config' | 'default';

export interface Decision {
  effect: 'allow' | 'deny';
  tier: Tier;
  policies: string[];
  reasons: string[];
}

export interface DecisionPoint {
  decide(req: ActionRequest, ctx: DecisionContext): Decision | Promise<Decision>;
}

export interface ContextProvider {
  build(req: ActionRequest): DecisionContext | Promise<DecisionContext>;
}

/** Re-checks, at call time, that the principal's credential is still valid (revocation, run ended). */
export interface PrincipalVerifier {
  verify(p: Principal): void | Promise<void>;
}

export interface AuditEventInput {
  type: string;
  agentId?: string;
  runId?: string;
  subject?: string;
  action?: string;
  resource?: string;
  decision?: 'allow' | 'deny';
  tier?: Tier;
  policies?: string[];
  payload?: Record<string, unknown>;
}

/** Where a durable event landed in the hash chain. */
export interface AuditReceipt {
  seq: number;
  hash: string;
}

/** Resolves only once the event is durable; rejects if it cannot be written (the action is then denied). */
export interface AuditSink {
  record(event: AuditEventInput): Promise<AuditReceipt | void>;
}

export type ToolResult = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

/** Applied to everything flowing back to agents (secret redaction plugs in here). */
export interface OutputFilter {
  filter(value: unknown): unknown;
}

export interface ToolCallContext {
  principal: Principal;
  signal?: AbortSignal;
}

/**
 * A call in the form the decision, the audit record and the tool all use: arguments validated and
 * canonicalised (the real path a file tool opens, the resolved command exec runs), the resource
 * they act on, and what the audit keeps of them (every argument that decides what happens, whole;
 * bulk data as its size and digest).
 */
export interface PreparedCall {
  args: unknown;
  resource?: string;
  audit: unknown;
}

/** The enforcement side: prepares and executes an allowed call (each tool applies its own guard too). */
export interface ToolExecutor {
  has(name: string): boolean;
  /** Validate and canonicalise; throws a ClawguardError (bad_request, …) when the call cannot be made at all. */
  prepare(name: string, args: unknown, ctx: ToolCallContext): Promise<PreparedCall>;
  /** Run a prepared call. */
  execute(name: string, call: PreparedCall, ctx: ToolCallContext): Promise<unknown>;
}
