/**
 * Why an agent request was refused. Each reason has its own stable error code (answered in the
 * 401 body and recorded), so operators can tell an attack from a misconfigured client.
 */
import { ClawguardError } from '../errors/index.js';

export const REJECTION_CODES = [
  'missing_signature',
  'malformed_signature',
  'unsupported_algorithm',
  'unknown_key',
  'identity_revoked',
  'identity_expired',
  'bad_signature',
  'missing_component',
  'digest_mismatch',
  'clock_skew',
  'signature_expired',
  'replayed_nonce',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'token_rotated',
  'signature_required',
  'wrong_credential',
] as const;

export type RejectionCode = (typeof REJECTION_CODES)[number];

/** A refusal of the caller's credential (401 unless the error map says otherwise). */
export function reject(code: RejectionCode, message: string): ClawguardError {
  return new ClawguardError(code, message);
}

export function isRejection(e: unknown): e is ClawguardError & { code: RejectionCode } {
  return e instanceof ClawguardError && (REJECTION_CODES as readonly string[]).includes(e.code);
}
