/** The broker's Prometheus metrics, registered on the gateway's registry. Labels: configured secret names only. */
import client from 'prom-client';

export interface RotationGaugeSource {
  rotationGauges(): Array<{ secret: string; ageSeconds: number | null; overdue: boolean }>;
}

export class SecretMetrics {
  readonly access: client.Counter<'secret' | 'result'>;
  readonly exposure: client.Counter<'secret'>;

  constructor(registry: client.Registry, source: RotationGaugeSource) {
    this.access = new client.Counter({ name: 'clawguard_secrets_access_total', help: 'Uses of secrets, by secret and result (allowed, denied, host_blocked, unavailable, audit_unavailable)', labelNames: ['secret', 'result'], registers: [registry] });
    this.exposure = new client.Counter({ name: 'clawguard_secrets_exposure_total', help: 'Secret values caught and redacted on their way to an agent, a log or an API', labelNames: ['secret'], registers: [registry] });
    new client.Gauge({
      name: 'clawguard_secrets_rotation_age_seconds',
      help: 'Seconds since the secret last rotated (or, for read-only sources, last changed)',
      labelNames: ['secret'],
      registers: [registry],
      collect() {
        this.reset();
        for (const g of source.rotationGauges()) if (g.ageSeconds !== null) this.set({ secret: g.secret }, g.ageSeconds);
      },
    });
    new client.Gauge({
      name: 'clawguard_secrets_rotation_overdue',
      help: '1 when the secret missed its rotation schedule',
      labelNames: ['secret'],
      registers: [registry],
      collect() {
        this.reset();
        for (const g of source.rotationGauges()) this.set({ secret: g.secret }, g.overdue ? 1 : 0);
      },
    });
  }
}
