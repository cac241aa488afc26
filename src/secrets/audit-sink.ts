/** An audit sink that redacts every event (payload, resource, reasons…) before the real sink stores it. */
import type { AuditEventInput, AuditSink } from '../pipeline/index.js';
import type { SecretRedactor } from './redact/redactor.js';

export function redactingAuditSink(sink: AuditSink, redactor: SecretRedactor): AuditSink {
  return { record: (e: AuditEventInput) => sink.record(redactor.filter(e, 'audit') as AuditEventInput) };
}
