/** The one place where error codes become HTTP statuses. */
import { ClawguardError } from '../errors/index.js';
import { storeFault, storeUnavailable } from '../store/index.js';

const STATUS: Record<string, number> = {
  bad_request: 400,
  invalid_json: 400,
  config_invalid: 400,
  unauthenticated: 401,
  // identity: each refusal of an agent credential has its own code
  missing_signature: 401,
  malformed_signature: 401,
  unsupported_algorithm: 401,
  unknown_key: 401,
  identity_revoked: 401,
  identity_expired: 401,
  bad_signature: 401,
  missing_component: 401,
  digest_mismatch: 401,
  clock_skew: 401,
  signature_expired: 401,
  replayed_nonce: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  token_rotated: 401,
  signature_required: 401,
  wrong_credential: 401,
  insufficient_scope: 403,
  session_tokens_disabled: 403,
  forbidden: 403,
  denied: 403,
  path_blocked: 403,
  host_blocked: 403,
  not_found: 404,
  profile_not_found: 404,
  run_not_found: 404,
  tool_not_found: 404,
  conflict: 409,
  body_too_large: 413,
  unsupported_media_type: 415,
  queue_full: 429,
  rate_limited: 429,
  audit_unavailable: 503,
  audit_broken: 503,
  store_unavailable: 503,
  policy_invalid: 422,
  sandbox_unavailable: 503,
  secret_unavailable: 503,
  unavailable: 503,
  model_error: 502,
};

export function statusFor(code: string): number {
  return STATUS[code] ?? 500;
}

/** Fastify's own error codes for malformed requests, mapped to ours. */
const FASTIFY: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'the request body is empty but content-type is application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', message: 'the request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request' },
  FST_ERR_VALIDATION: { code: 'bad_request' },
};

export function toErrorBody(e: unknown): { status: number; body: { error: { code: string; message: string } }; retryAfter?: number } {
  // A store fault surfaces as the SQLite error itself or as the cause of an internal one.
  const fault = !(e instanceof ClawguardError) || e.code === 'internal' ? storeFault(e) : undefined;
  if (fault) e = storeUnavailable(fault);
  if (e instanceof ClawguardError) {
    return { status: statusFor(e.code), body: { error: e.toJSON() }, ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}) };
  }
  const fe = e as { code?: string; message?: string; statusCode?: number };
  const mapped = fe.code ? FASTIFY[fe.code] : undefined;
  if (mapped) return { status: statusFor(mapped.code), body: { error: { code: mapped.code, message: mapped.message ?? fe.message ?? mapped.code } } };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: 'bad_request', message: fe.message ?? 'bad request' } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error (see the gateway log)' } } };
}
