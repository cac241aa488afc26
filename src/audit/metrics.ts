/** Audit metrics, registered on the gateway's prom-client registry. */
import client from 'prom-client';

export class AuditMetrics {
  readonly events: client.Counter<'type'>;
  readonly failures: client.Counter;
  readonly batch: client.Histogram;
  readonly commitSeconds: client.Histogram;
  readonly lastSeq: client.Gauge;
  readonly checkpoints: client.Counter;
  readonly witnessPublished: client.Counter<'witness' | 'result'>;
  readonly witnessSize: client.Gauge<'witness'>;
  readonly lockWaits: client.Counter;

  constructor(registry?: client.Registry) {
    const registers = registry ? [registry] : [];
    this.events = new client.Counter({ name: 'clawguard_audit_events_total', help: 'Audit events committed, by type', labelNames: ['type'], registers });
    this.failures = new client.Counter({ name: 'clawguard_audit_write_failures_total', help: 'Audit events that could not be written (their actions were denied)', registers });
    this.batch = new client.Histogram({ name: 'clawguard_audit_commit_batch_events', help: 'Events per group commit', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000], registers });
    this.commitSeconds = new client.Histogram({ name: 'clawguard_audit_commit_seconds', help: 'Time to commit one group of audit events (durable)', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers });
    this.lastSeq = new client.Gauge({ name: 'clawguard_audit_last_seq', help: 'Sequence number of the last committed audit event', registers });
    this.checkpoints = new client.Counter({ name: 'clawguard_audit_checkpoints_total', help: 'Signed audit checkpoints written', registers });
    this.witnessPublished = new client.Counter({ name: 'clawguard_audit_witness_publications_total', help: 'Signed tree heads offered to audit witnesses, by result (ok, failed, refused)', labelNames: ['witness', 'result'], registers });
    this.witnessSize = new client.Gauge({ name: 'clawguard_audit_witnessed_tree_size', help: 'Size of the latest tree head each audit witness holds', labelNames: ['witness'], registers });
    this.lockWaits = new client.Counter({ name: 'clawguard_audit_lock_waits_total', help: 'Audit writes that found the store locked by another connection and were retried off the hot path', registers });
  }
}
