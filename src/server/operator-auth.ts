/**
 * Operator bearer tokens with scopes (read ⊂ write ⊂ admin), compared in constant time by the
 * identity module. Read endpoints need `read`, changes `write`, identity and key management
 * `admin`. Agent credentials (signatures, session tokens) never work here. Refusals are recorded.
 */
import type { FastifyRequest } from 'fastify';
import { markAuthenticated } from '../audit/index.js';
import { ClawguardError } from '../errors/index.js';
import { hasScope, type OperatorIdentity, type OperatorTokens, type Rejection, type Scope } from '../identity/index.js';

export class OperatorAuth {
  /** Refusal records still being written, per request: the response waits for them. */
  private readonly pending = new WeakMap<FastifyRequest, Promise<unknown>>();

  constructor(
    private readonly tokens: OperatorTokens,
    private readonly onReject: (r: Rejection) => unknown = () => undefined,
  ) {}

  /** The operator a token belongs to, or undefined. */
  check(presented: string | undefined): OperatorIdentity | undefined {
    if (!presented) return undefined;
    return this.tokens.authenticate(presented);
  }

  /** The operator whose token the request carries, if it is accepted; nothing is recorded (for requests that never needed one, a 404 say). */
  identify(req: FastifyRequest): OperatorIdentity | undefined {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    return m ? this.check(m[1]) : undefined;
  }

  /** Throws unauthenticated (401) or insufficient_scope (403). Without a scope, admin is required (fail closed). */
  require(req: FastifyRequest, scope: Scope = 'admin'): OperatorIdentity {
    const fail = (code: 'unauthenticated' | 'insufficient_scope', message: string): never => {
      const recorded = this.onReject({ code, message, method: req.method, path: req.url.split('?')[0]!, ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}), door: 'operator' });
      if (recorded instanceof Promise) this.pending.set(req, recorded.catch(() => undefined));
      throw new ClawguardError(code, message);
    };
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    if (!m) {
      const signed = req.headers['signature-input'] !== undefined || req.headers.signature !== undefined;
      return fail('unauthenticated', signed ? 'operator endpoint: agent signatures are not accepted here; send "Authorization: Bearer <operator token>"' : 'operator endpoint: send "Authorization: Bearer <operator token>" (see <state-dir>/operator.token)');
    }
    const who = this.check(m[1]);
    if (!who) return fail('unauthenticated', 'operator token not accepted');
    // From here a refusal (scope) is an authenticated operator's: recorded on its own, never aggregated.
    markAuthenticated();
    if (!hasScope(who.scopes, scope)) return fail('insufficient_scope', `this operator token has scope ${who.scopes.join(', ')}; ${req.method} ${req.url.split('?')[0]} needs ${scope}`);
    return who;
  }

  /** Resolves once the refusal of this request (if any) is recorded; never rejects. */
  async settled(req: FastifyRequest): Promise<void> {
    await this.pending.get(req);
  }
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}
