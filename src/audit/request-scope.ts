/**
 * Rejected HTTP requests leave exactly one audit event: the server runs each request inside a
 * scope, every audit append made while handling it is counted there, and a response of 400 or
 * more that left none (a 404, a malformed body…) is then recorded as `http.rejected`. Requests
 * whose refusal was already audited (an identity rejection, a policy denial) are not recorded twice.
 * A request that presented no accepted credential is recorded through the flood guard, which
 * writes the first of a burst at once and counts the rest into one event per window.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditEventInput, AuditSink, Door } from '../pipeline/index.js';

const als = new AsyncLocalStorage<{ events: number; authenticated: boolean }>();

/** Count an audit event against the request being handled, if any. */
export function markAudited(): void {
  const s = als.getStore();
  if (s) s.events++;
}

/** The request being handled presented a credential that was accepted (an operator token, an agent signature or token). */
export function markAuthenticated(): void {
  const s = als.getStore();
  if (s) s.authenticated = true;
}

/** Whether the request being handled is authenticated; false outside a request. */
export function isAuthenticated(): boolean {
  return als.getStore()?.authenticated ?? false;
}

/** Where rejections of unauthenticated requests go, so that a flood of them stays bounded. */
export interface RejectionFloodGuard {
  record(event: AuditEventInput, from: { remoteAddress?: string; door: Door; code: string }, logFields?: Record<string, unknown>): Promise<void>;
}

export interface RejectedRequest {
  method: string;
  path: string;
  status: number;
  code?: string;
  message?: string;
  route?: string;
  remoteAddress?: string;
}

export class RejectionAuditor {
  constructor(
    private readonly sink: () => AuditSink,
    private readonly flood?: RejectionFloodGuard,
  ) {}

  /** Run the rest of a request's handling inside its audit scope (fastify onRequest: `begin(done)`). */
  begin(done: () => void): void {
    als.run({ events: 0, authenticated: false }, done);
  }

  /** Whether the request being handled has already left an audit event. */
  recorded(): boolean {
    return (als.getStore()?.events ?? 0) > 0;
  }

  /** Durable before the response goes out; a failure is counted by the log and otherwise ignored (the request was refused anyway). */
  async record(r: RejectedRequest): Promise<void> {
    const event: AuditEventInput = {
      type: 'http.rejected',
      subject: r.remoteAddress ?? 'unknown',
      action: `${r.method} ${r.route ?? r.path}`,
      resource: r.path,
      decision: 'deny',
      payload: { status: r.status, ...(r.code ? { code: r.code } : {}), ...(r.message ? { message: r.message.slice(0, 500) } : {}), method: r.method, path: r.path, ...(r.remoteAddress ? { remoteAddress: r.remoteAddress } : {}) },
    };
    if (this.flood && !isAuthenticated()) return this.flood.record(event, { ...(r.remoteAddress ? { remoteAddress: r.remoteAddress } : {}), door: 'http', code: r.code ?? String(r.status) });
    try {
      await this.sink().record(event);
    } catch {
      /* counted in clawguard_audit_write_failures_total */
    }
  }

  /** The error code and message of a JSON error body, if it is one. */
  static errorOf(payload: unknown): { code?: string; message?: string } {
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
    if (!text || text[0] !== '{') return {};
    try {
      const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
      return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), ...(typeof e?.message === 'string' ? { message: e.message } : {}) };
    } catch {
      return {};
    }
  }
}
