/**
 * The one table of the gateway's error codes: each code's HTTP status and what it means.
 * `ErrorCode` is derived from it, so a code that is not here cannot be raised (tsc refuses it),
 * and the HTTP layer has no table of its own. Codes an agent throws are data, not ErrorCode.
 */
export const ERROR_CODES = {
  // The request itself is wrong.
  bad_request: { status: 400, meaning: 'the request is malformed or names something invalid' },
  invalid_json: { status: 400, meaning: 'the body is not valid JSON' },
  config_invalid: { status: 400, meaning: 'the configuration does not validate' },
  body_too_large: { status: 413, meaning: 'the body is larger than the limit' },
  unsupported_media_type: { status: 415, meaning: 'the body has a content-type the route does not take' },
  policy_invalid: { status: 422, meaning: 'policies did not compile; the previous set stays in force' },

  // Authentication: each refusal of an agent credential has its own code (see src/identity/codes.ts).
  unauthenticated: { status: 401, meaning: 'no valid credential' },
  missing_signature: { status: 401, meaning: 'the request carries no signature' },
  malformed_signature: { status: 401, meaning: 'the signature headers do not parse' },
  unsupported_algorithm: { status: 401, meaning: 'the signature uses an algorithm the gateway refuses' },
  unknown_key: { status: 401, meaning: 'the key id names no registered agent' },
  identity_revoked: { status: 401, meaning: 'the agent or run identity was revoked' },
  identity_expired: { status: 401, meaning: 'the agent identity expired' },
  bad_signature: { status: 401, meaning: 'the signature does not verify' },
  missing_component: { status: 401, meaning: 'the signature does not cover a required component' },
  digest_mismatch: { status: 401, meaning: 'the body does not match its Content-Digest' },
  clock_skew: { status: 401, meaning: 'the signature was created too far from the gateway clock' },
  signature_expired: { status: 401, meaning: 'the signature is past its expiry' },
  replayed_nonce: { status: 401, meaning: 'the nonce was already used' },
  token_invalid: { status: 401, meaning: 'the token does not verify' },
  token_expired: { status: 401, meaning: 'the token expired' },
  token_revoked: { status: 401, meaning: 'the token was revoked' },
  token_rotated: { status: 401, meaning: 'the token was replaced by a newer one' },
  signature_required: { status: 401, meaning: 'this route takes a signature, not a token' },
  wrong_credential: { status: 401, meaning: 'a credential of another kind was presented' },
  revoked: { status: 401, meaning: 'a capability of a run that has ended was used' },

  // Authorisation.
  forbidden: { status: 403, meaning: 'the caller may not do this' },
  insufficient_scope: { status: 403, meaning: 'the operator token lacks the scope' },
  session_tokens_disabled: { status: 403, meaning: 'session tokens are turned off' },
  denied: { status: 403, meaning: 'policy denied the action' },
  path_blocked: { status: 403, meaning: 'the sandbox refused a path' },
  host_blocked: { status: 403, meaning: 'the egress guard refused a host' },

  // Things that are not there, or not in the state asked for.
  not_found: { status: 404, meaning: 'no such resource' },
  profile_not_found: { status: 404, meaning: 'no such agent profile' },
  run_not_found: { status: 404, meaning: 'no such run' },
  tool_not_found: { status: 404, meaning: 'no such tool' },
  conflict: { status: 409, meaning: 'the resource exists or is in another state' },
  killed: { status: 409, meaning: 'the run was killed (operator, shutdown or abort) before it finished' },

  // The agent or its tool call failed; the gateway is fine.
  tool_failed: { status: 422, meaning: 'the tool ran and failed' },
  bad_agent_data: { status: 422, meaning: 'agent code handed the gateway data it refuses at the isolate boundary' },
  memory_limit: { status: 422, meaning: 'the agent exceeded its memory limit (the run is killed, the gateway is not)' },
  protocol_violation: { status: 422, meaning: "the agent's side of the process channel broke the protocol or its budget" },

  // Back off.
  queue_full: { status: 429, meaning: 'the run queue is full' },
  rate_limited: { status: 429, meaning: 'too many requests' },

  // The gateway or something it depends on.
  internal: { status: 500, meaning: 'an unexpected fault (details only in the gateway log)' },
  model_error: { status: 502, meaning: 'the model provider failed' },
  unavailable: { status: 503, meaning: 'a dependency is unavailable' },
  audit_unavailable: { status: 503, meaning: 'the audit record could not be written, so the action was refused' },
  audit_broken: { status: 503, meaning: 'the audit chain does not verify' },
  store_unavailable: { status: 503, meaning: 'the state store is locked or not writable' },
  sandbox_unavailable: { status: 503, meaning: 'the sandbox cannot be set up' },
  secret_unavailable: { status: 503, meaning: 'a secret cannot be read from its provider' },
  state_insecure: { status: 503, meaning: 'the state dir or a key file is accessible to others' },
  timeout: { status: 504, meaning: 'an operation exceeded its time limit' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** True only for a code of the table (an own key: `constructor` or `__proto__` are not codes). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The HTTP status of a code; 500 for a value that is not one (a cast, or a library's code). */
export function httpStatusOf(code: ErrorCode): number {
  return isErrorCode(code) ? ERROR_CODES[code].status : 500;
}
