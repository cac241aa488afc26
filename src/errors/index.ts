/**
 * Typed errors with stable codes. The HTTP layer maps `code` to a status in one place
 * (src/server/error-map.ts); everything below the server only throws ClawguardError.
 */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'body_too_large'
  | 'config_invalid'
  | 'not_found'
  | 'profile_not_found'
  | 'run_not_found'
  | 'unauthenticated'
  | 'forbidden'
  | 'denied'
  | 'queue_full'
  | 'rate_limited'
  | 'conflict'
  | 'unavailable'
  | 'audit_unavailable'
  | 'audit_broken'
  | 'store_unavailable'
  | 'sandbox_unavailable'
  | 'path_blocked'
  | 'host_blocked'
  | 'tool_not_found'
  | 'tool_failed'
  | 'model_error'
  | 'timeout'
  // Agent code handed the gateway data it refuses at the isolate boundary (size, shape, type).
  | 'bad_agent_data'
  // The agent exceeded its memory limit (the run is killed, the gateway is not).
  | 'memory_limit'
  // A call made with a capability of a run that has ended.
  | 'revoked'
  | 'internal'
  // Process isolation's framed channel: the agent's side broke the protocol or its budget.
  | 'protocol_violation'
  | (string & {});

export class ClawguardError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  /** Seconds a caller should wait before retrying (queue_full, rate_limited). */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, opts: { details?: Record<string, unknown>; retryAfter?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ClawguardError';
    this.code = code;
    if (opts.details) this.details = opts.details;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isClawguardError(e: unknown): e is ClawguardError {
  return e instanceof ClawguardError;
}

/** A plain {code, message} for any thrown value; never leaks a stack. */
export function errorShape(e: unknown, fallbackCode: ErrorCode = 'internal'): { code: string; message: string } {
  if (e instanceof ClawguardError) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: fallbackCode, message: e.message };
  return { code: fallbackCode, message: String(e) };
}
