/**
 * The secrets broker: every use of a secret goes through it. It decides (grant, host binding,
 * policy), audits (who, which secret, which host, the decision — never the value), hands the
 * value only to the gateway for an outbound request, keeps values in memory with a TTL, rotates
 * on schedule, and feeds every value it learns to the redactor.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ModelProviderConfig, SecretConfig, SecretSource } from '../config/index.js';
import { ClawguardError, errorShape } from '../errors/index.js';
import type { AuditEventInput, AuditSink, Principal } from '../pipeline/index.js';
import { canonicalHost } from '../sandbox/host-pattern.js';
import type { SqliteDb } from '../store/index.js';
import { type Clock, systemClock } from './clock.js';
import { deriveKey, fingerprint } from './crypto.js';
import { hostAllowed } from './hosts.js';
import { MasterKey } from './master-key.js';
import { SecretMetrics } from './metrics.js';
import { awsSettings } from './providers/aws-common.js';
import { AwsKmsProvider } from './providers/aws-kms.js';
import { AwsSecretsManagerProvider } from './providers/aws-secrets-manager.js';
import { EnvProvider } from './providers/env.js';
import { ExecProvider } from './providers/exec.js';
import { FileProvider } from './providers/file.js';
import { LocalProvider } from './providers/local.js';
import { VaultProvider } from './providers/vault.js';
import { SecretRedactor } from './redact/redactor.js';
import { isOverdue, MISSED_AFTER_MS, nextDue, retryDelayMs } from './schedule.js';
import { SecretStore, type StateRow } from './store.js';
import type { Authorize, FetchedValue, ProviderSet, RotationMode, RotationResult, SecretHealth, SecretProvider, SecretStatus, SecretsStatus } from './types.js';
import { DayWindow } from './usage.js';

export interface BrokerOptions {
  secrets: Record<string, SecretConfig>;
  db: SqliteDb;
  stateDir: string;
  audit: AuditSink;
  /** The policy decision for secret.use (the gateway wires the PDP here). */
  authorize: Authorize;
  redactor?: SecretRedactor;
  /** Where the clawguard_secrets_* metrics go (the gateway's registry). */
  registry?: Registry;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** Replaces the built-in provider of a source (tests, embedding). */
  providers?: ProviderSet;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Also require `secrets.<name>.agents` to name the principal, whatever authorize() says (default true). */
  requireConfigGrant?: boolean;
}

export interface StartOptions {
  /** Fetch every secret now, so the redactor knows the values before any run starts (default true). */
  prefetch?: boolean;
  /** Longest wait for the prefetch; slower sources keep loading in the background (default 3000 ms). */
  prefetchTimeoutMs?: number;
  /** Rotate on schedule with a timer (default true; tests drive tick() with a manual clock instead). */
  schedule?: boolean;
}

/** The principal the gateway itself acts as when it uses a secret from config (model API keys). */
export const GATEWAY_PRINCIPAL: Principal = { kind: 'agent', agentId: 'gateway', trustLevel: 'trusted', capabilities: [], door: 'run' };

interface Previous {
  value: string;
  version: string | null;
  graceUntil: number;
}

interface Entry {
  cfg: SecretConfig;
  provider: SecretProvider;
  cached: { value: string; version: string | null; expiresAt: number } | undefined;
  inflight: Promise<string> | undefined;
  lock: Promise<unknown>;
  health: SecretHealth;
  reason: string | null;
  previous: Previous[];
  lastRotationError: string | null;
  failures: number;
  nextAttemptAt: number;
  uses: DayWindow;
  denials: DayWindow;
  exposures: number;
  lastExposure: number | null;
}

type UseResult = 'allowed' | 'denied' | 'host_blocked' | 'unavailable' | 'audit_unavailable';

const WRITABLE: RotationMode[] = ['generate', 'vault-write', 'aws-rotate', 'kms-data-key'];

export class SecretsBroker {
  readonly redactor: SecretRedactor;
  private readonly entries = new Map<string, Entry>();
  private readonly store: SecretStore;
  private readonly master: MasterKey;
  private readonly clock: Clock;
  private readonly env: NodeJS.ProcessEnv;
  private readonly metrics: SecretMetrics | undefined;
  private fp: Promise<{ key: Buffer; tag: string }> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private readonly pendingExposures = new Map<string, { count: number; partial: number; where: Set<string> }>();
  private exposureFlush: NodeJS.Immediate | undefined;

  constructor(private readonly o: BrokerOptions) {
    this.clock = o.clock ?? systemClock;
    this.env = o.env ?? process.env;
    this.store = new SecretStore(o.db);
    const wrap = Object.values(o.secrets).find((s) => s.source === 'aws-kms' && s.settings.wrapMasterKey === true);
    this.master = new MasterKey({
      stateDir: o.stateDir,
      env: this.env,
      ...(wrap && typeof wrap.settings.keyId === 'string' ? { kmsWrap: { keyId: wrap.settings.keyId, aws: awsSettings(wrap.settings, this.env) } } : {}),
    });
    const builtin: Record<SecretSource, SecretProvider> = {
      local: new LocalProvider(this.store, this.master, this.clock),
      env: new EnvProvider(this.env),
      file: new FileProvider(),
      exec: new ExecProvider(this.env),
      vault: new VaultProvider(this.env),
      'aws-secrets-manager': new AwsSecretsManagerProvider(this.env),
      'aws-kms': new AwsKmsProvider(this.store, this.clock, this.env),
    };
    for (const cfg of Object.values(o.secrets)) {
      this.entries.set(cfg.name, {
        cfg,
        provider: o.providers?.[cfg.source] ?? builtin[cfg.source],
        cached: undefined,
        inflight: undefined,
        lock: Promise.resolve(),
        health: 'unknown',
        reason: null,
        previous: [],
        lastRotationError: null,
        failures: 0,
        nextAttemptAt: 0,
        uses: new DayWindow(),
        denials: new DayWindow(),
        exposures: 0,
        lastExposure: null,
      });
    }
    this.redactor = o.redactor ?? new SecretRedactor();
    this.redactor.onExposure((counts, where, partial) => this.exposed(counts, where, partial));
    this.metrics = o.registry ? new SecretMetrics(o.registry, this) : undefined;
  }

  // ── lifecycle ────────────────────────────────────────────────────────────

  async start(opts: StartOptions = {}): Promise<void> {
    if (opts.prefetch !== false) {
      const all = Promise.allSettled([...this.entries.values()].map(async (e) => {
        await this.value(e).catch(() => undefined);
        await this.loadGrace(e).catch(() => undefined);
      }));
      let t: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((r) => (t = setTimeout(r, opts.prefetchTimeoutMs ?? 3000)))]);
      clearTimeout(t);
    }
    if (opts.schedule !== false) {
      void this.tick().finally(() => this.scheduleNext());
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.exposureFlush) {
      clearImmediate(this.exposureFlush);
      this.flushExposures();
    }
  }

  /** Sleeps until the next due rotation, retry or end of grace (at most a minute), then ticks. */
  private scheduleNext(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    let next = now + 60_000;
    try {
      for (const e of this.entries.values()) {
        for (const p of e.previous) next = Math.min(next, p.graceUntil);
        if (e.nextAttemptAt > now) next = Math.min(next, e.nextAttemptAt);
        const st = this.store.getState(e.cfg.name);
        if (e.cfg.rotation && st?.last_rotated_at != null) {
          const due = nextDue(e.cfg.rotation, st.last_rotated_at);
          if (due !== null) next = Math.min(next, Math.max(due, e.nextAttemptAt));
        }
      }
    } catch (err) {
      this.o.log?.warn({ err: errorShape(err).message }, 'secrets: cannot compute the next rotation; checking again in a minute');
    }
    const delay = Math.min(Math.max(next - now, 1000), 60_000);
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.scheduleNext());
    }, delay);
    this.timer.unref();
  }

  // ── use ──────────────────────────────────────────────────────────────────

  /**
   * The value of `secretName` for an outbound request to `destination`, made on behalf of
   * `principal`. Throws denied (no grant), host_blocked (host not in allowedHosts),
   * secret_unavailable (provider down or value missing) or audit_unavailable.
   */
  async inject(principal: Principal, secretName: string, destination: URL): Promise<string> {
    const host = canonicalHost(destination.hostname);
    const e = this.entries.get(secretName);
    if (!e) return this.refuse(principal, secretName, host, 'unavailable', `no secret named "${secretName}" is configured`);
    if (!hostAllowed(e.cfg.allowedHosts, destination)) {
      const allowed = e.cfg.allowedHosts.length ? e.cfg.allowedHosts.join(', ') : 'none';
      const hint = destination.protocol !== 'https:' || destination.port ? ' (an entry without a scheme is https, without a port 443: bind an origin such as http://host:port)' : '';
      return this.refuse(principal, secretName, host, 'host_blocked', `secret "${secretName}" may only be sent to its allowedHosts (${allowed}), not to ${destination.origin}${hint}`);
    }
    return this.use(principal, e, host, destination.origin, destination);
  }

  /**
   * The value for a resolver that hands it on (OpenClaw's exec protocol): the grant and the policy
   * decide; there is no destination to bind, so allowedHosts does not apply.
   */
  async resolveFor(principal: Principal, secretName: string): Promise<string> {
    const e = this.entries.get(secretName);
    if (!e) return this.refuse(principal, secretName, '', 'unavailable', `no secret named "${secretName}" is configured`);
    return this.use(principal, e, '', 'exec-resolver');
  }

  private granted(e: Entry, p: Principal): boolean {
    if (this.o.requireConfigGrant === false) return true;
    return e.cfg.agents.includes(p.agentId) || (p.profile !== undefined && e.cfg.agents.includes(p.profile));
  }

  private async use(principal: Principal, e: Entry, host: string, target: string, destination?: URL): Promise<string> {
    const name = e.cfg.name;
    if (!this.granted(e, principal)) {
      return this.refuse(principal, name, host, 'denied', `${principal.profile ? `agent profile "${principal.profile}"` : `agent "${principal.agentId}"`} is not granted secret "${name}" (secrets.${name}.agents)`);
    }
    let decision;
    try {
      decision = await this.o.authorize(principal, name, host, destination);
    } catch (err) {
      decision = { effect: 'deny' as const, reasons: [`decision failed: ${errorShape(err).message}`] };
    }
    if (decision.effect !== 'allow') {
      return this.refuse(principal, name, host, 'denied', `use of secret "${name}" denied by policy${decision.reasons.length ? `: ${decision.reasons.join('; ')}` : ''}`, decision.reasons);
    }
    return this.release(principal, e, name, host, { result: 'allowed', target, reasons: decision.reasons, version: e.cached?.version ?? null });
  }

  /** Fetch the value, audit the use (durably, before the value leaves), count it; any failure refuses. */
  private async release(principal: Principal, e: Entry, name: string, host: string, extra: Record<string, unknown>): Promise<string> {
    let value: string;
    try {
      value = await this.value(e);
    } catch (err) {
      return this.refuse(principal, name, host, 'unavailable', `secret "${name}" is unavailable: ${errorShape(err).message}`);
    }
    try {
      await this.o.audit.record(this.useEvent(principal, name, host, 'allow', extra));
    } catch (err) {
      this.count(name, 'audit_unavailable');
      throw new ClawguardError('audit_unavailable', `use of secret "${name}" refused: the audit record could not be written (${errorShape(err).message})`);
    }
    this.count(name, 'allowed');
    e.uses.add(this.clock.now());
    return value;
  }

  private useEvent(p: Principal, secret: string, host: string, decision: 'allow' | 'deny', extra: Record<string, unknown>): AuditEventInput {
    return {
      type: 'secret.use',
      agentId: p.agentId,
      ...(p.runId ? { runId: p.runId } : {}),
      subject: p.profile ?? p.agentId,
      action: 'secret.use',
      resource: host ? `secret:${secret}@${host}` : `secret:${secret}`,
      decision,
      payload: { secret, host: host || null, door: p.door, ...extra },
    };
  }

  private async refuse(p: Principal, secret: string, host: string, result: Exclude<UseResult, 'allowed' | 'audit_unavailable'>, message: string, reasons: string[] = [message]): Promise<never> {
    const known = this.entries.get(secret);
    this.count(known ? secret : '(unknown)', result);
    known?.denials.add(this.clock.now());
    try {
      await this.o.audit.record(this.useEvent(p, secret, host, 'deny', { result, reasons }));
    } catch (err) {
      this.o.log?.error({ secret, err: errorShape(err).message }, 'audit of a refused secret use failed');
    }
    const code = result === 'host_blocked' ? 'host_blocked' : result === 'unavailable' ? 'secret_unavailable' : 'denied';
    throw new ClawguardError(code, message, { details: { secret, host } });
  }

  private count(secret: string, result: UseResult): void {
    this.metrics?.access.inc({ secret, result });
  }

  /**
   * Resolves `models.<name>.apiKeySecret` through the broker (bound to the provider's baseUrl host,
   * audited as a use by the gateway), else the `apiKeyEnv` variable.
   */
  readonly apiKeyResolver = async (provider: ModelProviderConfig): Promise<string | undefined> => {
    if (!provider.apiKeySecret) return provider.apiKeyEnv ? this.env[provider.apiKeyEnv] : undefined;
    const name = provider.apiKeySecret;
    const url = new URL(provider.baseUrl);
    const host = canonicalHost(url.hostname);
    const e = this.entries.get(name);
    if (!e) return this.refuse(GATEWAY_PRINCIPAL, name, host, 'unavailable', `models.${provider.name}.apiKeySecret names secret "${name}", which is not configured`);
    if (!hostAllowed(e.cfg.allowedHosts, url)) {
      return this.refuse(GATEWAY_PRINCIPAL, name, host, 'host_blocked', `secret "${name}" (models.${provider.name}.apiKeySecret) may not be sent to ${url.origin}: add "${url.origin}" to secrets.${name}.allowedHosts (a bare host is https on 443 only)`);
    }
    return this.release(GATEWAY_PRINCIPAL, e, name, host, { result: 'allowed', target: `model:${provider.name}`, version: e.cached?.version ?? null });
  };

  /** Dual-phase check: is `candidate` the current value of `secretName`, or a previous one still in its grace period? */
  async accepts(secretName: string, candidate: string): Promise<boolean> {
    const e = this.entries.get(secretName);
    if (!e) return false;
    const now = this.clock.now();
    const h = (s: string) => createHash('sha256').update(s).digest();
    const c = h(candidate);
    let current: string | undefined;
    try {
      current = await this.value(e);
    } catch {
      current = undefined;
    }
    const valid = [...(current !== undefined ? [current] : []), ...e.previous.filter((p) => p.graceUntil > now).map((p) => p.value)];
    let ok = false;
    for (const v of valid) if (timingSafeEqual(h(v), c)) ok = true;
    return ok;
  }

  // ── values, cache, version tracking ──────────────────────────────────────

  private exclusive<T>(e: Entry, fn: () => Promise<T>): Promise<T> {
    const run = e.lock.then(fn, fn);
    e.lock = run.catch(() => undefined);
    return run;
  }

  /** The cached value, or a fresh read (one at a time per secret) when the TTL has run out. */
  private value(e: Entry): Promise<string> {
    const c = e.cached;
    if (c && c.expiresAt > this.clock.now()) return Promise.resolve(c.value);
    e.inflight ??= this.exclusive(e, () => this.refresh(e)).finally(() => {
      e.inflight = undefined;
    });
    return e.inflight;
  }

  private async refresh(e: Entry): Promise<string> {
    let f: FetchedValue;
    try {
      f = await e.provider.fetch(e.cfg);
    } catch (err) {
      this.markUnavailable(e, err);
      throw err instanceof ClawguardError ? err : new ClawguardError('secret_unavailable', errorShape(err).message);
    }
    await this.observe(e, f, false);
    return f.value;
  }

  private markUnavailable(e: Entry, err: unknown): void {
    const reason = errorShape(err).message;
    e.cached = undefined;
    const was = e.health;
    e.health = 'unavailable';
    e.reason = reason;
    const st = this.store.getState(e.cfg.name);
    if (st) this.store.putState({ ...st, last_error: reason, last_checked_at: this.clock.now() });
    if (was !== 'unavailable') this.event({ type: 'secret.health', subject: e.cfg.name, action: 'secret.health', resource: `secret:${e.cfg.name}`, payload: { secret: e.cfg.name, health: 'unavailable', reason } });
  }

  private fpKey(): Promise<{ key: Buffer; tag: string }> {
    this.fp ??= this.master.get().then(
      (m) => deriveKey(m, 'fingerprint'),
      () => randomBytes(32),
    ).then((key) => ({ key, tag: fingerprint(key, 'clawguard-fingerprint-key').slice(0, 8) }));
    return this.fp;
  }

  /** Records a value read or written: cache, redactor, version/age tracking, grace of the previous value. Returns whether it changed. */
  private async observe(e: Entry, f: FetchedValue, rotated: boolean): Promise<boolean> {
    const now = this.clock.now();
    const name = e.cfg.name;
    const { key, tag } = await this.fpKey();
    const fp = `${tag}:${fingerprint(key, f.value)}`;
    const st = this.store.getState(name);
    const old = e.cached;
    let changed: boolean;
    if (!st || st.seq === 0) changed = true;
    else if (rotated) changed = true;
    else if (st.fingerprint?.startsWith(`${tag}:`)) changed = st.fingerprint !== fp;
    else changed = f.version !== undefined && st.version !== null && f.version !== st.version;
    const seq = (st?.seq ?? 0) + (changed ? 1 : 0);
    // When it changed: now if we made it, else when the source says (Vault created_time, AWS CreatedDate, file mtime) or now.
    const changedAt = rotated ? now : Math.min(f.createdAt ?? now, now);
    const next: StateRow = {
      name,
      source: e.cfg.source,
      version: changed || !st ? (f.version ?? String(seq)) : (st.version ?? f.version ?? String(seq)),
      seq,
      fingerprint: fp,
      last_rotated_at: changed || st?.last_rotated_at == null ? changedAt : st.last_rotated_at,
      last_checked_at: now,
      last_error: null,
      missed_due_at: st?.missed_due_at ?? null,
    };
    this.store.putState(next);
    if (old && old.value !== f.value && !e.previous.some((p) => p.value === old.value)) {
      e.previous.push({ value: old.value, version: old.version, graceUntil: now + e.cfg.gracePeriodSeconds * 1000 });
    }
    e.cached = { value: f.value, version: next.version, expiresAt: now + e.cfg.cacheTtlSeconds * 1000 };
    this.redactor.add(name, f.value);
    if (e.health !== 'ok') {
      if (e.health === 'unavailable') this.event({ type: 'secret.health', subject: name, action: 'secret.health', resource: `secret:${name}`, payload: { secret: name, health: 'ok' } });
      e.health = 'ok';
      e.reason = null;
    }
    return changed && st !== undefined && st.seq > 0;
  }

  /** Previous versions a provider keeps in its own store (local, KMS) after a restart. */
  private async loadGrace(e: Entry): Promise<void> {
    if (!e.provider.graceValues) return;
    for (const g of await e.provider.graceValues(e.cfg, this.clock.now())) {
      this.redactor.add(e.cfg.name, g.value);
      if (!e.previous.some((p) => p.value === g.value)) e.previous.push({ value: g.value, version: g.version, graceUntil: g.graceUntil });
    }
  }

  // ── rotation ─────────────────────────────────────────────────────────────

  /** Runs what is due: ends grace periods, rotates due secrets, records missed rotations. */
  tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        for (const e of this.entries.values()) {
          await this.exclusive(e, () => this.tickOne(e)).catch((err: unknown) => this.o.log?.warn({ secret: e.cfg.name, err: errorShape(err).message }, 'secret rotation check failed'));
        }
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  private async tickOne(e: Entry): Promise<void> {
    const now = this.clock.now();
    const name = e.cfg.name;
    const revoked = e.provider.revokeExpired?.(e.cfg, now) ?? 0;
    const ended = e.previous.filter((p) => p.graceUntil <= now);
    if (ended.length || revoked) {
      e.previous = e.previous.filter((p) => p.graceUntil > now);
      this.event({ type: 'secret.revoke', subject: name, action: 'secret.revoke', resource: `secret:${name}`, payload: { secret: name, versions: ended.map((p) => p.version), storedVersionsDeleted: revoked } });
    }
    const sched = e.cfg.rotation;
    if (!sched) return;
    let st = this.store.getState(name);
    if (st?.last_rotated_at == null) {
      try {
        await this.refresh(e);
      } catch {
        return;
      }
      st = this.store.getState(name);
      if (st?.last_rotated_at == null) return;
    }
    const due = nextDue(sched, st.last_rotated_at);
    if (due === null || now < due || now < e.nextAttemptAt) return;
    if (now - due > MISSED_AFTER_MS) this.recordMissed(e, due, `rotation was due at ${new Date(due).toISOString()} and did not happen (the gateway was not running or the rotation failed)`);
    await this.rotateLocked(e, { reason: 'scheduled', actor: 'scheduler', due }).catch(() => undefined);
  }

  private recordMissed(e: Entry, due: number, reason: string): void {
    const st = this.store.getState(e.cfg.name);
    if (!st || st.missed_due_at === due) return;
    this.store.putState({ ...st, missed_due_at: due });
    const late = Math.round((this.clock.now() - due) / 1000);
    this.event({ type: 'secret.rotation.missed', subject: e.cfg.name, action: 'secret.rotate', resource: `secret:${e.cfg.name}`, payload: { secret: e.cfg.name, dueAt: new Date(due).toISOString(), lateSeconds: late, reason } });
    this.o.log?.warn({ secret: e.cfg.name, dueAt: new Date(due).toISOString(), lateSeconds: late }, `missed rotation: ${reason}`);
  }

  /** Forces a rotation now (`clawguard secrets rotate NAME`, POST /v1/secrets/:name/rotate). */
  async rotate(secretName: string, actor = 'operator'): Promise<RotationResult> {
    const e = this.entries.get(secretName);
    if (!e) throw new ClawguardError('not_found', `no secret named "${secretName}" is configured`);
    return this.exclusive(e, () => this.rotateLocked(e, { reason: 'forced', actor }));
  }

  private async rotateLocked(e: Entry, o: { reason: 'scheduled' | 'forced'; actor: string; due?: number }): Promise<RotationResult> {
    const name = e.cfg.name;
    const mode = e.provider.rotationMode(e.cfg);
    const before = this.store.getState(name);
    const previousVersion = before?.version ?? null;
    const sched = e.cfg.rotation;
    if (mode === 'manual') {
      if (o.reason === 'forced') throw new ClawguardError('conflict', `local secret "${name}" has no generator, so clawguard cannot make a new value: set one with "clawguard secrets set ${name}" (or add secrets.${name}.generator)`);
      if (o.due !== undefined) this.recordMissed(e, o.due, `local secret without a generator: set a new value with "clawguard secrets set ${name}"`);
      e.nextAttemptAt = this.clock.now() + retryDelayMs(sched!, e.failures++);
      return this.result(name, mode, false, previousVersion, null);
    }
    try {
      let f: FetchedValue;
      if (WRITABLE.includes(mode) && e.provider.rotate) {
        f = await e.provider.rotate(e.cfg);
      } else {
        try {
          f = await e.provider.fetch(e.cfg);
        } catch (err) {
          this.markUnavailable(e, err);
          throw err;
        }
      }
      const writable = WRITABLE.includes(mode);
      const changed = await this.observe(e, f, writable);
      const now = this.clock.now();
      if (!changed && !writable && o.due !== undefined) {
        this.recordMissed(e, o.due, `the ${e.cfg.source} source still has the value it had at ${before?.last_rotated_at ? new Date(before.last_rotated_at).toISOString() : 'the last check'}; it is read-only here, so it must be rotated where it lives`);
        e.nextAttemptAt = now + retryDelayMs(sched!, e.failures++);
      } else {
        e.failures = 0;
        e.nextAttemptAt = 0;
        e.lastRotationError = null;
      }
      await this.loadGrace(e).catch(() => undefined);
      const after = this.store.getState(name);
      const grace = e.previous.filter((p) => p.graceUntil > now).map((p) => p.graceUntil);
      const res = this.result(name, mode, changed || writable, previousVersion, after?.version ?? null, changed || writable ? (grace.length ? Math.max(...grace) : null) : null);
      this.event({ type: 'secret.rotate', subject: name, action: 'secret.rotate', resource: `secret:${name}`, payload: { secret: name, mode, changed: res.changed, version: res.version, previousVersion, reason: o.reason, actor: o.actor, graceUntil: res.graceUntil } });
      return res;
    } catch (err) {
      const msg = errorShape(err).message;
      e.lastRotationError = msg;
      if (sched) e.nextAttemptAt = this.clock.now() + retryDelayMs(sched, e.failures++);
      this.event({ type: 'secret.rotation.failed', subject: name, action: 'secret.rotate', resource: `secret:${name}`, payload: { secret: name, mode, reason: o.reason, actor: o.actor, error: msg } });
      throw err instanceof ClawguardError ? err : new ClawguardError('secret_unavailable', msg);
    }
  }

  private result(secret: string, mode: RotationMode, changed: boolean, previousVersion: string | null, version: string | null, graceUntil: number | null = null): RotationResult {
    return { secret, mode, changed, version, previousVersion: changed ? previousVersion : null, graceUntil: graceUntil === null ? null : new Date(graceUntil).toISOString(), rotatedAt: new Date(this.clock.now()).toISOString() };
  }

  /** Stores an operator-supplied value for a local secret (`clawguard secrets set NAME`); the previous one stays valid through the grace period. */
  async set(secretName: string, value: string, actor = 'operator'): Promise<RotationResult> {
    const e = this.entries.get(secretName);
    if (!e) throw new ClawguardError('not_found', `no secret named "${secretName}" in the config (add secrets.${secretName} with source "local")`);
    if (e.cfg.source !== 'local' || !e.provider.set) throw new ClawguardError('conflict', `secret "${secretName}" comes from ${e.cfg.sourceSpelling}; only local secrets are stored by clawguard (set it where it lives)`);
    return this.exclusive(e, async () => {
      const before = this.store.getState(secretName)?.version ?? null;
      const f = await e.provider.set!(e.cfg, value);
      await this.observe(e, f, true);
      await this.loadGrace(e).catch(() => undefined);
      const now = this.clock.now();
      const grace = e.previous.filter((p) => p.graceUntil > now).map((p) => p.graceUntil);
      const res = this.result(secretName, 'manual', true, before, f.version ?? null, grace.length ? Math.max(...grace) : null);
      this.event({ type: 'secret.set', subject: secretName, action: 'secret.set', resource: `secret:${secretName}`, payload: { secret: secretName, version: res.version, previousVersion: before, actor, graceUntil: res.graceUntil } });
      e.failures = 0;
      e.nextAttemptAt = 0;
      return res;
    });
  }

  // ── exposure, events ─────────────────────────────────────────────────────

  private exposed(counts: Map<string, number>, where: string, partial?: Map<string, number>): void {
    const now = this.clock.now();
    for (const [secret, n] of counts) {
      const e = this.entries.get(secret);
      if (e) {
        e.exposures += n;
        e.lastExposure = now;
      }
      this.metrics?.exposure.inc({ secret }, n);
      const p = this.pendingExposures.get(secret) ?? { count: 0, partial: 0, where: new Set<string>() };
      p.count += n;
      p.partial += partial?.get(secret) ?? 0;
      p.where.add(where);
      this.pendingExposures.set(secret, p);
    }
    // Recorded after the current write finishes: the redactor also runs inside the logger.
    this.exposureFlush ??= setImmediate(() => this.flushExposures());
  }

  private flushExposures(): void {
    this.exposureFlush = undefined;
    for (const [secret, p] of this.pendingExposures) {
      this.event({ type: 'secret.exposure', subject: secret, action: 'secret.exposure', resource: `secret:${secret}`, payload: { secret, count: p.count, partial: p.partial, where: [...p.where].sort() } });
    }
    this.pendingExposures.clear();
  }

  private event(ev: AuditEventInput): void {
    this.o.audit.record(ev).catch((err: unknown) => this.o.log?.error({ event: ev.type, err: errorShape(err).message }, 'secrets: audit event could not be written'));
  }

  // ── status ───────────────────────────────────────────────────────────────

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  rotationGauges(): Array<{ secret: string; ageSeconds: number | null; overdue: boolean }> {
    return this.status().secrets.map((s) => ({ secret: s.name, ageSeconds: s.ageSeconds, overdue: s.overdue }));
  }

  /** Metadata of every configured secret, never a value. */
  status(): SecretsStatus {
    const now = this.clock.now();
    const secrets = [...this.entries.values()]
      .sort((a, b) => a.cfg.name.localeCompare(b.cfg.name))
      .map((e): SecretStatus => {
        const c = e.cfg;
        const st = this.store.getState(c.name);
        const last = st?.last_rotated_at ?? null;
        const due = c.rotation && last !== null ? nextDue(c.rotation, last) : null;
        const health: SecretHealth = e.health !== 'unknown' ? e.health : st?.last_error ? 'unavailable' : 'unknown';
        return {
          name: c.name,
          source: c.source,
          sourceSpelling: c.sourceSpelling,
          provider: c.provider,
          health,
          reason: e.reason ?? (e.health === 'unknown' ? (st?.last_error ?? null) : null),
          version: st?.version ?? null,
          rotation: c.rotation?.label ?? null,
          rotationMode: e.provider.rotationMode(c),
          lastRotation: last === null ? null : new Date(last).toISOString(),
          nextRotation: due === null ? null : new Date(due).toISOString(),
          overdue: isOverdue(due, now),
          ageSeconds: last === null ? null : Math.max(0, Math.round((now - last) / 1000)),
          lastRotationError: e.lastRotationError,
          graceVersions: e.previous.filter((p) => p.graceUntil > now).length,
          uses24h: e.uses.count(now),
          denials24h: e.denials.count(now),
          grants: [...c.agents],
          allowedHosts: [...c.allowedHosts],
          exposures: e.exposures,
          lastExposure: e.lastExposure === null ? null : new Date(e.lastExposure).toISOString(),
          cacheTtlSeconds: c.cacheTtlSeconds,
          gracePeriodSeconds: c.gracePeriodSeconds,
        };
      });
    return { secrets, masterKey: this.master.describe(), redaction: this.redactor.stats() };
  }
}
