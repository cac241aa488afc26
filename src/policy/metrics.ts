/** Policy metrics, registered on the gateway's prom-client registry. */
import client from 'prom-client';
import type { Tier } from '../pipeline/index.js';

export class PolicyMetrics {
  readonly decisions: client.Counter<'effect' | 'tier'>;
  readonly seconds: client.Histogram;
  readonly cache: client.Counter<'result'>;
  readonly reloads: client.Counter<'result'>;
  readonly loaded: client.Gauge<'tier'>;
  /** Counted in plain numbers on the hot path; prom-client reads them at scrape time. */
  private readonly counts = new Map<string, number>();
  private readonly exported = new Map<string, number>();
  private hits = 0;
  private misses = 0;

  constructor(registry?: client.Registry) {
    const registers = registry ? [registry] : [];
    const counts = this.counts;
    const exported = this.exported;
    this.decisions = new client.Counter({
      name: 'clawguard_policy_decisions_total',
      help: 'Policy decisions, by effect and deciding tier',
      labelNames: ['effect', 'tier'],
      registers,
      collect() {
        for (const [k, n] of counts) {
          const delta = n - (exported.get(k) ?? 0);
          if (delta <= 0) continue;
          const [effect, tier] = k.split('/') as [string, string];
          this.labels(effect, tier).inc(delta);
          exported.set(k, n);
        }
      },
    });
    this.seconds = new client.Histogram({
      name: 'clawguard_policy_decision_seconds',
      help: 'Time to make one policy decision (cache hits included)',
      buckets: [0.000002, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025],
      registers,
    });
    const self = this;
    this.cache = new client.Counter({
      name: 'clawguard_policy_cache_lookups_total',
      help: 'Decision cache lookups, by result',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        this.labels('hit').inc(self.hits);
        this.labels('miss').inc(self.misses);
      },
    });
    this.reloads = new client.Counter({ name: 'clawguard_policy_reloads_total', help: 'Policy (re)loads, by result', labelNames: ['result'], registers });
    this.loaded = new client.Gauge({ name: 'clawguard_policy_policies', help: 'Policies in force, by tier', labelNames: ['tier'], registers });
  }

  decided(effect: 'allow' | 'deny', tier: Tier, seconds: number, cache: 'hit' | 'miss' | 'none'): void {
    const k = `${effect}/${tier}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    this.seconds.observe(seconds);
    if (cache === 'hit') this.hits++;
    else if (cache === 'miss') this.misses++;
  }
}
