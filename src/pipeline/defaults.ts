/** Default fillings of the pipeline's seams until identity, policy, audit and secrets plug in. */
import type { Logger } from 'pino';
import type { ActionRequest, AuditEventInput, AuditSink, ContextProvider, DecisionContext, OutputFilter } from './types.js';

export class BasicContextProvider implements ContextProvider {
  constructor(private readonly anomalyScore: (agentId: string) => number = () => 0) {}
  build(req: ActionRequest): DecisionContext {
    return {
      time: new Date().toISOString(),
      anomalyScore: this.anomalyScore(req.principal.agentId),
      ...(req.principal.isolation ? { isolation: req.principal.isolation } : {}),
    };
  }
}

/**
 * Writes each audit event as a structured log line. Not tamper-evident and not durable in the
 * audit sense: the hash-chained store replaces it (see the audit module).
 */
export class LogAuditSink implements AuditSink {
  constructor(private readonly log: Logger) {}
  async record(event: AuditEventInput): Promise<void> {
    this.log.info({ audit: event }, 'audit');
  }
}

export class IdentityOutputFilter implements OutputFilter {
  filter(value: unknown): unknown {
    return value;
  }
}
