/** Errors become HTTP responses here, with the statuses of the one code table (src/errors/codes.ts). */
import { ClawguardError, type ErrorCode, httpStatusOf, isErrorCode } from '../errors/index.js';
import { storeFault, storeUnavailable } from '../store/index.js';

/**
 * The status of a code from outside the type system (a tool result, a library): the table's, or
 * 500 for anything that is not a code of it.
 */
export function statusFor(code: string): number {
  return isErrorCode(code) ? httpStatusOf(code) : 500;
}

/** Fastify's own error codes for malformed requests, mapped to ours. */
const FASTIFY: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'the request body is empty but content-type is application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', message: 'the request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request' },
  FST_ERR_VALIDATION: { code: 'bad_request' },
};

const INTERNAL = { code: 'internal', message: 'internal error (see the gateway log)' } as const;

/**
 * The status and public error of a {code, message} that crossed no type check (a tool result):
 * a code outside the table is answered as 500 `internal`, without its code or message.
 */
export function publicError(code: unknown, message: unknown): { status: number; error: { code: string; message: string } } {
  if (!isErrorCode(code) || typeof message !== 'string') return { status: 500, error: { ...INTERNAL } };
  return { status: httpStatusOf(code), error: { code, message } };
}

type ErrorBody = { status: number; body: { error: { code: string; message: string } }; retryAfter?: number };

/** Never throws, whatever was thrown (a Proxy, a getter that throws): then it is a plain 500. */
export function toErrorBody(e: unknown): ErrorBody {
  try {
    return errorBodyOf(e);
  } catch {
    return { status: 500, body: { error: { ...INTERNAL } } };
  }
}

function errorBodyOf(e: unknown): ErrorBody {
  // A store fault surfaces as the SQLite error itself or as the cause of an internal one.
  const fault = !(e instanceof ClawguardError) || e.code === 'internal' ? storeFault(e) : undefined;
  if (fault) e = storeUnavailable(fault);
  // A code outside the table can only arrive by a cast: answered as an internal fault, no detail.
  if (e instanceof ClawguardError && isErrorCode(e.code)) {
    return { status: httpStatusOf(e.code), body: { error: e.toJSON() }, ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}) };
  }
  const fe = e as { code?: string; message?: string; statusCode?: number };
  const mapped = typeof fe.code === 'string' && Object.hasOwn(FASTIFY, fe.code) ? FASTIFY[fe.code] : undefined;
  if (mapped) return { status: httpStatusOf(mapped.code), body: { error: { code: mapped.code, message: mapped.message ?? fe.message ?? mapped.code } } };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: 'bad_request', message: fe.message ?? 'bad request' } } };
  }
  return { status: 500, body: { error: { ...INTERNAL } } };
}
