/** Audit events as the outside sees them (API, export, telemetry). */
import type { EventCore } from './canonical.js';

export interface AuditEvent extends Omit<EventCore, 'v'> {
  hash: string;
  /** The payload (tool arguments, reasons…); null once erased. */
  payload: Record<string, unknown> | null;
}

export type { AuditReceipt } from '../pipeline/index.js';
