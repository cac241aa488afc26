/** RFC 9530 Content-Digest: sha-256 and sha-512 over the body bytes as sent. */
import { timingSafeEqual } from 'node:crypto';
import { parseDictionary } from 'structured-headers';
import { reject } from '../codes.js';
import { hashOnce } from '../hash-once.js';

export type DigestAlgorithm = 'sha-256' | 'sha-512';
const NODE_ALG: Record<DigestAlgorithm, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

export function contentDigest(body: Uint8Array, alg: DigestAlgorithm = 'sha-256'): string {
  return `${alg}=:${hashOnce(NODE_ALG[alg], body, 'base64')}:`;
}

/**
 * Checks a Content-Digest field against the body. Every sha-256 / sha-512 member present must
 * match; other algorithms are ignored; at least one supported algorithm is required.
 */
/** The usual field, one member: decoded without the general parser (same bytes it would give). */
const SINGLE_MEMBER = /^(sha-256|sha-512)=:([A-Za-z0-9+/]+={0,2}):$/;

export function verifyContentDigest(field: string, body: Uint8Array): DigestAlgorithm[] {
  const single = SINGLE_MEMBER.exec(field);
  if (single) {
    const alg = single[1] as DigestAlgorithm;
    checkDigest(alg, Buffer.from(single[2]!, 'base64'), body);
    return [alg];
  }
  let dict;
  try {
    dict = parseDictionary(field);
  } catch (e) {
    throw reject('malformed_signature', `Content-Digest is not a valid structured dictionary: ${(e as Error).message}`);
  }
  const checked: DigestAlgorithm[] = [];
  for (const alg of Object.keys(NODE_ALG) as DigestAlgorithm[]) {
    const m = dict.get(alg);
    if (m === undefined) continue;
    if (!Array.isArray(m) || !(m[0] instanceof ArrayBuffer)) throw reject('malformed_signature', `Content-Digest ${alg} must be a byte sequence`);
    checkDigest(alg, Buffer.from(m[0]), body);
    checked.push(alg);
  }
  if (checked.length === 0) throw reject('digest_mismatch', 'Content-Digest has no sha-256 or sha-512 member');
  return checked;
}

function checkDigest(alg: DigestAlgorithm, want: Buffer, body: Uint8Array): void {
  const got = Buffer.from(hashOnce(NODE_ALG[alg], body, 'base64'), 'base64');
  if (want.length !== got.length || !timingSafeEqual(want, got)) throw reject('digest_mismatch', `Content-Digest ${alg} does not match the body`);
}
