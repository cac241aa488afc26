/** Prometheus metrics (prom-client). Every name is prefixed clawguard_; no run ids as labels. */
import client from 'prom-client';

export class Metrics {
  readonly registry = new client.Registry();
  readonly runsTotal: client.Counter<'profile' | 'outcome'>;
  readonly executionSeconds: client.Histogram<'profile'>;
  readonly active: client.Gauge<'profile'>;
  readonly queued: client.Gauge<'profile'>;
  readonly timeoutsTotal: client.Counter<'profile'>;
  readonly errorsTotal: client.Counter<'profile'>;
  readonly heapBytes: client.Gauge<'profile'>;
  readonly cpuSecondsTotal: client.Counter<'profile'>;
  readonly rejectedTotal: client.Counter<'profile' | 'reason'>;
  readonly warmPoolSize: client.Gauge<'profile'>;
  readonly toolCallsTotal: client.Counter<'tool' | 'result'>;
  readonly httpRequestsTotal: client.Counter<'route' | 'status'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics !== false) {
      client.collectDefaultMetrics({ register: r, prefix: 'clawguard_process_' });
      // These are gauges named *_total, which `promtool check metrics` rejects; leave them out.
      for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) r.removeSingleMetric(`clawguard_process_${n}`);
    }
    this.runsTotal = new client.Counter({ name: 'clawguard_thread_bound_runs_total', help: 'Thread-bound runs finished, by profile and outcome', labelNames: ['profile', 'outcome'], registers: [r] });
    this.executionSeconds = new client.Histogram({
      name: 'clawguard_thread_bound_execution_seconds',
      help: 'Wall-clock duration of thread-bound runs',
      labelNames: ['profile'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [r],
    });
    this.active = new client.Gauge({ name: 'clawguard_thread_bound_active', help: 'Runs executing now', labelNames: ['profile'], registers: [r] });
    this.queued = new client.Gauge({ name: 'clawguard_thread_bound_queued', help: 'Runs waiting for a slot', labelNames: ['profile'], registers: [r] });
    this.timeoutsTotal = new client.Counter({ name: 'clawguard_thread_bound_timeouts_total', help: 'Runs killed at their timeout', labelNames: ['profile'], registers: [r] });
    this.errorsTotal = new client.Counter({ name: 'clawguard_thread_bound_errors_total', help: 'Runs that failed, were killed or timed out', labelNames: ['profile'], registers: [r] });
    this.heapBytes = new client.Gauge({ name: 'clawguard_thread_bound_heap_bytes', help: 'Heap in use by the last finished run of the profile', labelNames: ['profile'], registers: [r] });
    this.cpuSecondsTotal = new client.Counter({ name: 'clawguard_thread_bound_cpu_seconds_total', help: 'CPU time consumed by agent instances', labelNames: ['profile'], registers: [r] });
    this.rejectedTotal = new client.Counter({ name: 'clawguard_thread_bound_rejected_total', help: 'Runs refused before start (queue full, unavailable isolation)', labelNames: ['profile', 'reason'], registers: [r] });
    this.warmPoolSize = new client.Gauge({ name: 'clawguard_thread_bound_warm_pool_instances', help: 'Pre-started, never-used instances ready', labelNames: ['profile'], registers: [r] });
    this.toolCallsTotal = new client.Counter({ name: 'clawguard_tool_calls_total', help: 'Tool calls through the pipeline, by tool and result', labelNames: ['tool', 'result'], registers: [r] });
    this.httpRequestsTotal = new client.Counter({ name: 'clawguard_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [r] });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
