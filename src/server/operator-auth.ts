/** Operator bearer tokens, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ClawguardError } from '../errors/index.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export class OperatorAuth {
  private readonly expected: Buffer;
  constructor(token: string) {
    this.expected = digest(token);
  }

  /** Hashing first makes the comparison constant-time regardless of the presented token's length. */
  check(presented: string | undefined): boolean {
    if (!presented) return false;
    return timingSafeEqual(digest(presented), this.expected);
  }

  require(req: FastifyRequest): void {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    if (!m) throw new ClawguardError('unauthenticated', 'operator endpoint: send "Authorization: Bearer <operator token>" (see <state-dir>/operator.token)');
    if (!this.check(m[1])) throw new ClawguardError('unauthenticated', 'operator token not accepted');
  }
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}
