/**
 * The one rule for operator changes (tokens, agents, sessions, policy reload): validated first,
 * then recorded, then made. A change whose record cannot be written is refused (503
 * audit_unavailable) and never made; a refused request leaves only its refusal in the log. If
 * the change then fails after all (the store went away in between), that is recorded too, tied to
 * the first record, so the log never shows as done what was not.
 */
import type { Logger } from 'pino';
import { ClawguardError, errorShape } from '../../errors/index.js';
import type { AuditEventInput, AuditSink } from '../../pipeline/index.js';

export async function recordedChange<T>(audit: () => AuditSink, event: AuditEventInput, what: string, apply: () => T | Promise<T>, log?: Pick<Logger, 'error'>): Promise<T> {
  let seq: number | null;
  try {
    seq = (await audit().record(event))?.seq ?? null;
  } catch (e) {
    throw new ClawguardError('audit_unavailable', `${what} refused: the audit record could not be written (${errorShape(e).message})`, { cause: e });
  }
  try {
    return await apply();
  } catch (e) {
    const { code, message } = errorShape(e);
    const failed: AuditEventInput = { type: 'operator.change.failed', ...pick(event), payload: { decisionSeq: seq, change: event.type, code, message: message.slice(0, 500) } };
    await audit()
      .record(failed)
      .catch((err: unknown) => log?.error({ change: event.type, decisionSeq: seq, err: errorShape(err).message }, 'an operator change failed after it was recorded, and its failure could not be recorded'));
    throw e;
  }
}

function pick(e: AuditEventInput): Partial<AuditEventInput> {
  return { ...(e.agentId ? { agentId: e.agentId } : {}), ...(e.subject ? { subject: e.subject } : {}), ...(e.action ? { action: e.action } : {}), ...(e.resource ? { resource: e.resource } : {}) };
}
