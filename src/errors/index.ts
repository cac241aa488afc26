/**
 * Typed errors with stable codes. Every code and its HTTP status is in one table (codes.ts);
 * src/server/error-map.ts turns errors into responses with it; everything below the server only
 * throws ClawguardError.
 */
import type { ErrorCode } from './codes.js';

export { ERROR_CODES, type ErrorCode, httpStatusOf, isErrorCode } from './codes.js';

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

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isClawguardError(e: unknown): e is ClawguardError {
  return e instanceof ClawguardError;
}

/**
 * A plain {code, message} for any thrown value; never leaks a stack, and never throws (a Proxy
 * whose traps throw, a getter, a value String() refuses: then the code alone, with a fixed message).
 */
export function errorShape(e: unknown, fallbackCode: ErrorCode = 'internal'): { code: ErrorCode; message: string } {
  try {
    if (e instanceof ClawguardError) return { code: e.code, message: String(e.message) };
    if (e instanceof Error) return { code: fallbackCode, message: String(e.message) };
    return { code: fallbackCode, message: String(e) };
  } catch {
    return { code: fallbackCode, message: 'an error that could not be read' };
  }
}
