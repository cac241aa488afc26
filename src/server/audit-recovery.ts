/**
 * The audit log reports "not writable" from its last failed write until its next successful one.
 * On a gateway that is not ready nobody sends traffic, so no write would ever come: once the
 * store can be written again, this records one `audit.recovered` event (when the log was
 * unavailable, and why), which brings readiness back and leaves the outage in the log.
 */
import type { Logger } from 'pino';
import type { AuditSink } from '../pipeline/index.js';

export interface AuditRecoveryDeps {
  audit: () => { ok: boolean; reason?: unknown; closed?: boolean };
  storeWritable: () => boolean;
  sink: () => AuditSink;
  log: Pick<Logger, 'info'>;
  everyMs?: number;
}

export function watchAuditRecovery(d: AuditRecoveryDeps): () => void {
  const every = d.everyMs ?? 1000;
  let since: string | undefined;
  let reason: unknown;
  let trying = false;
  // A log that stays unwritable (its file cannot be opened, say) is tried ever less often.
  let backoff = every;
  let nextTry = 0;
  const tick = () => {
    const s = d.audit();
    if (s.ok) {
      since = undefined;
      backoff = every;
      return;
    }
    since ??= new Date().toISOString();
    reason = s.reason ?? reason;
    if (trying || s.reason === 'closed' || Date.now() < nextTry || !d.storeWritable()) return;
    trying = true;
    d.sink()
      .record({ type: 'audit.recovered', action: 'audit.recovered', resource: 'audit', payload: { unavailableSince: since, reason: String(reason ?? 'unknown').slice(0, 500) } })
      .then(
        () => {
          d.log.info({ unavailableSince: since }, 'the audit log is writable again');
          since = undefined;
          backoff = every;
        },
        () => {
          nextTry = Date.now() + backoff;
          backoff = Math.min(backoff * 2, 30_000);
        },
      )
      .finally(() => (trying = false));
  };
  const timer = setInterval(tick, every);
  timer.unref();
  return () => clearInterval(timer);
}
