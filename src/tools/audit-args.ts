/**
 * What the audit keeps of a call's arguments. Arguments that decide what happens (a path, a URL, a
 * command line) are kept whole, and a call whose deciding arguments do not fit is refused rather
 * than recorded in part; bulk data (file content, request bodies, stdin) is kept as its size and
 * SHA-256, which identify it without storing it.
 */
import { createHash } from 'node:crypto';

/** Bound on the deciding arguments of one call, as JSON text. */
export const MAX_AUDITED_ARGS_BYTES = 64 * 1024;

export interface Digest {
  bytes: number;
  sha256: string;
}

export function digestOf(data: string | Uint8Array): Digest {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { bytes: buf.byteLength, sha256: createHash('sha256').update(buf).digest('hex') };
}

/** Size of the audit projection as UTF-8 JSON; anything that cannot be encoded counts as too large. */
export function auditSize(v: unknown): number {
  try {
    const text = JSON.stringify(v ?? null);
    return text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
