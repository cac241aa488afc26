/**
 * The gateway process: composes config, store, metrics, pipeline, tools and runtime, and serves
 * them over HTTP. Server and CLI are the only modules that compose the others.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { setLongTimeout, type ClawguardConfig } from '../config/index.js';
import { ClawguardError, errorShape } from '../errors/index.js';
import { Metrics } from '../monitor/index.js';
import { BasicContextProvider, Pipeline, type AuditSink, type DecisionPoint, type Principal, type PrincipalVerifier } from '../pipeline/index.js';
import { IsolateFactory, installProcessGuard, ProcessFactory, RunManager } from '../runtime/index.js';
import { acquireGatewayLock, ensureStateDir, failFastOnLocks, type GatewayLock, newToken, openStore, operatorTokenPath, readOrCreateSecretFile, type Store, StoreHealth } from '../store/index.js';
import { assertAgentsCannotReach, sandboxStatus } from '../sandbox/index.js';
import { execRunTool, fsTools, httpFetchTool, modelChatTool, SandboxDirectory, systemTimeTool, ToolRegistry } from '../tools/index.js';
import { redactingAuditSink, redactingLogger, SecretRedactor, SecretsBroker } from '../secrets/index.js';
import { IdentityService } from '../identity/index.js';
import { AuditLog, isAuthenticated, RejectionAuditor, telemetryFromConfig } from '../audit/index.js';
import { CedarDecisionPoint, type ReloadResult, watchPolicyDir } from '../policy/index.js';
import { buildApp } from './app.js';
import { watchAuditRecovery } from './audit-recovery.js';
import { Connections } from './connections.js';
import { RejectionAggregator } from './rejection-aggregator.js';
import { assertToolCatalog, warnUnknownSecretAgents } from './startup-checks.js';
import { registerAuditRoutes } from './routes/audit.js';
import { OperatorAuth, isLoopback } from './operator-auth.js';
import { processIsolation } from './process-isolation.js';
import { registerSecretRoutes } from './routes/secrets.js';
import { identityPlugins } from './routes/identity.js';
import { loadTls } from './tls.js';

export interface GatewayOptions {
  config: ClawguardConfig;
  stateDir: string;
  host?: string;
  port?: number;
  logger?: Logger;
  /** Overrides the stored operator token (CLAWGUARD_TOKEN). */
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Continue on a new audit segment (recording the break) when the log fails its start check. */
  auditNewSegment?: boolean;
}

export { VERSION } from '../config/index.js';
import { VERSION } from '../config/index.js';

/** How long opening the store may wait for a lock another process holds (start-up only). */
const STARTUP_LOCK_WAIT_MS = 5000;
/** How much longer than its grace a shutdown waits for runs to be killed before closing anyway. */
const SHUTDOWN_SLACK_MS = 5000;

export interface GatewayInfo {
  pid: number;
  url: string;
  host: string;
  port: number;
  startedAt: string;
  stateDir: string;
  config?: string;
}

export class Gateway {
  readonly log: Logger;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly tools: ToolRegistry;
  readonly pipeline: Pipeline;
  readonly runs: RunManager;
  readonly token: string;
  readonly auth: OperatorAuth;
  readonly audit: AuditSink;
  /** The tamper-evident audit log (the audit sink) and the Cedar policy decision point. */
  readonly auditLog: AuditLog;
  readonly pdp: CedarDecisionPoint;
  private stopPolicyWatch: (() => void) | undefined;
  private readonly onSighup = () => {
    this.log.info({ signal: 'SIGHUP' }, 'reloading local policies');
    this.reloadOnSignal('sighup');
  };
  /** Whether the store can be written (probed off the request path; see /readyz). */
  readonly storeHealth: StoreHealth;
  /** Rejections of unauthenticated requests: bounded however many arrive. */
  readonly rejections: RejectionAggregator;
  private readonly connections = new Connections();
  private stopAuditRecovery: (() => void) | undefined;
  readonly identity: IdentityService;
  readonly sandboxes: SandboxDirectory;
  /** The instance factories the runtime uses; status asks these same ones. */
  private readonly factories: { thread: IsolateFactory; process: ProcessFactory };
  readonly secrets: SecretsBroker;
  /** Secret injection into outbound calls; replaced by the secrets broker. Until then: refused. */
  injectSecret: (principal: Principal, secretName: string, destination: URL) => Promise<string> = async (_p, name) => {
    throw new ClawguardError('secret_unavailable', `secret "${name}": no secrets broker is configured`);
  };
  private app: FastifyInstance | undefined;
  private info: GatewayInfo | undefined;
  private readonly startedAt = new Date();
  private stopping: Promise<void> | undefined;
  private readonly lock: GatewayLock;

  constructor(readonly opts: GatewayOptions) {
    const { config, stateDir } = opts;
    const redactor = new SecretRedactor();
    this.log = redactingLogger(opts.logger ?? pino({ level: process.env.CLAWGUARD_LOG_LEVEL ?? 'info' }), redactor);
    // Before anything reads a key: a key file others can read, or a dir others can write, is refused.
    ensureStateDir(stateDir, (w) => this.log.warn({ stateDir }, w));
    // One gateway per state dir, taken before anything in it is written (token, database, audit log).
    this.lock = acquireGatewayLock(stateDir, (w) => this.log.warn({ stateDir }, w));
    try {
      this.token = opts.token ?? readOrCreateSecretFile(operatorTokenPath(stateDir), () => newToken());
      // Opening and migrating may wait for a lock a little; once built, the gateway never waits (below).
      this.store = openStore(stateDir, { busyTimeoutMs: STARTUP_LOCK_WAIT_MS });
      this.storeHealth = new StoreHealth(this.store.db);
      this.metrics = new Metrics();
      this.tools = new ToolRegistry()
        .register(systemTimeTool)
        .register(modelChatTool({ profiles: () => config.agents, providers: () => config.models, apiKey: (p) => this.secrets.apiKeyResolver(p), egressFor: (p) => this.sandboxes.for(p).egress }));
      this.sandboxes = new SandboxDirectory(config, stateDir, (e) => this.log.info({ egress: e }, 'egress'));
      for (const t of fsTools(this.sandboxes, { maxReadBytes: 1024 * 1024, maxWriteBytes: 10 * 1024 * 1024, redactor })) this.tools.register(t);
      this.tools.register(httpFetchTool(this.sandboxes, { maxResponseBytes: 10 * 1024 * 1024, timeoutMs: 30_000, inject: (p, name, url) => this.injectSecret(p, name, url), redactor }));
      this.tools.register(execRunTool(this.sandboxes));
      const telemetry = telemetryFromConfig(config.monitoring.telemetry, stateDir, config.source ? dirname(config.source) : process.cwd());
      this.auditLog = AuditLog.open({ stateDir, checkpointEvery: config.audit.checkpointEvery, checkpointSeconds: config.audit.checkpointSeconds, retentionDays: config.audit.retentionDays, witness: config.audit.witness, witnessEveryMs: config.audit.witnessSeconds * 1000, registry: this.metrics.registry, log: this.log.child({ component: 'audit' }), ...(telemetry ? { telemetry } : {}) });
      this.audit = redactingAuditSink(this.auditLog, redactor);
      this.rejections = new RejectionAggregator({ sink: () => this.audit, log: this.log.child({ component: 'http' }) });
      this.identity = new IdentityService({ db: this.store.db, stateDir, zeroTrust: config.zeroTrust, profiles: () => config.agents, adminTokens: [this.token], log: this.log.child({ component: 'identity' }), audit: () => this.audit, floodGuard: this.rejections, authenticated: isAuthenticated });
      this.auth = new OperatorAuth(this.identity.operators, (r) => this.identity.recordRejection(r));
      const context = new BasicContextProvider();
      const pdp: DecisionPoint = (this.pdp = new CedarDecisionPoint({
        config,
        stateDir,
        actions: () => this.tools.names(),
        registry: this.metrics.registry,
        log: this.log.child({ component: 'policy' }),
        onReload: (r) =>
          void this.audit
            .record({ type: 'policy.reload', action: 'policy.reload', resource: this.pdp.localDir.dir ?? 'policies', payload: { ok: r.ok, files: r.files, counts: r.counts ?? null, errors: r.errors } })
            .catch((e: unknown) => this.log.error({ err: errorShape(e).message, ok: r.ok }, 'the outcome of a policy reload could not be recorded')),
      }));
      this.secrets = new SecretsBroker({
        secrets: config.secrets,
        db: this.store.db,
        stateDir,
        audit: this.audit,
        redactor,
        registry: this.metrics.registry,
        log: this.log.child({ component: 'secrets' }),
        authorize: async (principal, secret, host, destination) => {
          // args.url gives the config tier the destination's origin (scheme and port), not only its host.
          const req = { principal, tool: 'secret.use', args: { secret, host, ...(destination ? { url: destination.origin } : {}) } };
          const d = await pdp.decide(req, await context.build(req));
          return { effect: d.effect, reasons: d.reasons };
        },
      });
      this.injectSecret = (p, name, url) => this.secrets.inject(p, name, url);
      const runsRef: { current?: RunManager } = {};
      const verifier: PrincipalVerifier = {
        verify: (p) => {
          if (p.kind === 'run' && !(p.runId && runsRef.current?.isActive(p.runId))) throw new ClawguardError('identity_revoked', 'run-scoped identity is no longer valid (the run has ended)');
          this.identity.verifyPrincipal(p);
        },
      };
      this.pipeline = new Pipeline({
        verifier,
        context,
        pdp,
        audit: this.audit,
        tools: this.tools,
        output: this.secrets.redactor,
        metrics: this.metrics,
        log: this.log.child({ component: 'pipeline' }),
      });
      const proc = processIsolation(config, stateDir);
      this.factories = { thread: new IsolateFactory(), process: new ProcessFactory(proc.spawn, proc.available, proc.extraRoPaths) };
      this.runs = new RunManager({
        config,
        store: this.store,
        pipeline: this.pipeline,
        audit: this.audit,
        metrics: this.metrics,
        log: this.log,
        factories: this.factories,
        describeTools: () => this.tools.describe(),
        runIdentity: this.identity.runs,
        output: this.secrets.redactor,
        recordedEnd: (runId) => this.auditLog.firstSeqOf(runId, 'run.end'),
      });
      runsRef.current = this.runs;
      assertToolCatalog(this.tools.names());
      for (const db of [this.store.db, this.auditLog.database]) if (db) failFastOnLocks(db);
    } catch (e) {
      this.lock.release();
      throw e;
    }
  }

  /**
   * Reload local policies like every operator change: the request is recorded first, and refused
   * (audit_unavailable; the current set stays in force) if it cannot be; onReload records the outcome.
   * `subject`: who asked (an operator's name for the API).
   */
  async reloadPolicies(trigger: 'sighup' | 'watch' | 'api', subject: string = trigger === 'sighup' ? 'signal:SIGHUP' : 'policy-dir'): Promise<ReloadResult> {
    try {
      await this.audit.record({ type: 'policy.reload.requested', subject, action: 'policy.reload', resource: this.pdp.localDir.dir ?? 'policies', decision: 'allow', payload: { trigger } });
    } catch (e) {
      throw new ClawguardError('audit_unavailable', `policy reload refused: the audit record could not be written (${errorShape(e).message}); the current policies stay in force`, { cause: e });
    }
    return this.pdp.reload();
  }

  private reloadOnSignal(trigger: 'sighup' | 'watch'): void {
    this.reloadPolicies(trigger).catch((e: unknown) => this.log.error({ trigger, err: errorShape(e).message }, errorShape(e).message));
  }

  status(): Record<string, unknown> {
    const c = this.opts.config;
    const thread = this.factories.thread.available();
    const proc = this.factories.process.available();
    return {
      gateway: { version: VERSION, pid: process.pid, url: this.info?.url ?? null, startedAt: this.startedAt.toISOString(), uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000), stateDir: this.opts.stateDir, config: c.source ?? '(embedded defaults)' },
      isolation: { thread: thread.ok ? { available: true } : { available: false, reason: thread.reason }, process: proc.ok ? { available: true } : { available: false, reason: proc.reason } },
      sandbox: sandboxStatus(c.sandbox.mode),
      agents: this.runs.status(),
      tools: this.tools.names(),
      secrets: this.secrets.status(),
      identity: this.identity.status(),
      policy: this.pdp.status(),
      audit: this.auditLog.status(),
      store: this.storeHealth.status(),
      runs: this.runs.health(),
      http: { connections: this.connections.status(), rejections: this.rejections.status() },
    };
  }

  async start(): Promise<GatewayInfo> {
    installProcessGuard({ log: this.log.child({ component: 'process-guard' }), registry: this.metrics.registry });
    const c = this.opts.config;
    assertAgentsCannotReach(c, this.opts.stateDir);
    // Before anything is recorded or served: a broken, truncated or re-keyed log is refused (audit_broken).
    await this.auditLog.checkAtStart({ newSegment: this.opts.auditNewSegment === true });
    await this.runs.recover();
    const host = this.opts.host ?? c.gateway.host;
    const port = this.opts.port ?? c.gateway.port;
    if (!c.zeroTrust.requireAuthentication && !(isLoopback(host) || host === 'localhost')) {
      throw new ClawguardError('config_invalid', `refusing to bind ${host} with security.zeroTrust.policies.agentCommunication.requireAuthentication false: unauthenticated agents are only allowed on loopback`);
    }
    const tls = await loadTls(c.gateway, this.opts.stateDir, { ...(this.opts.tlsCert ? { cert: this.opts.tlsCert } : {}), ...(this.opts.tlsKey ? { key: this.opts.tlsKey } : {}) });
    const loopback = isLoopback(host) || host === 'localhost';
    if (!tls && (!loopback || c.zeroTrust.encryptAllTraffic)) {
      throw new ClawguardError('config_invalid', `refusing to serve plaintext HTTP on ${host}: ${!loopback ? 'the bind address is not loopback' : 'security.zeroTrust.policies.agentCommunication.encryptAllTraffic is true'}; configure gateway.tls (cert/key or auto: true) or --tls-cert/--tls-key`);
    }
    for (const p of Object.values(c.agents)) {
      const problem = await RunManager.checkEntry(p);
      if (problem) this.log.warn({ profile: p.name }, `${problem}: its runs will fail until it exists`);
    }
    warnUnknownSecretAgents(c, this.store.db, this.log);
    this.storeHealth.start();
    this.stopAuditRecovery = watchAuditRecovery({ audit: () => this.auditLog.status() as { ok: boolean; reason?: unknown }, storeWritable: () => this.storeHealth.status().ok, sink: () => this.audit, log: this.log.child({ component: 'audit' }) });
    await this.secrets.start();
    this.pdp.load();
    this.stopPolicyWatch = watchPolicyDir(this.pdp.localDir.dir, () => this.reloadOnSignal('watch'));
    process.on('SIGHUP', this.onSighup);
    this.app = buildApp({
      runs: this.runs,
      metrics: this.metrics,
      auth: this.auth,
      bodyLimitBytes: c.gateway.bodyLimitBytes,
      metricsPublic: c.monitoring.metricsPublic,
      status: () => this.status(),
      audit: () => this.audit,
      plugins: [(app) => registerSecretRoutes(app, { secrets: this.secrets, auth: this.auth }), ...identityPlugins({ identity: this.identity, pipeline: this.pipeline, auth: this.auth, audit: () => this.audit, profiles: () => c.agents }), (app) => registerAuditRoutes(app, { audit: this.auditLog, pdp: this.pdp, auth: this.auth, stateDir: this.opts.stateDir, profiles: () => c.agents, reloadPolicies: (subject) => this.reloadPolicies('api', subject) })],
      rejections: new RejectionAuditor(() => this.audit, this.rejections),
      ...(tls ? { https: tls } : {}),
      log: this.log.child({ component: 'http' }),
      onError: (e) => this.storeHealth.report(e),
      connections: this.connections,
      health: {
        audit: () => this.auditLog.status() as { ok: boolean; reason?: unknown },
        store: () => this.storeHealth.status(),
        policy: () => this.pdp.status() as { ok: boolean; reason?: unknown },
        runs: () => {
          const h = this.runs.health();
          return h.pendingEndings === 0 ? { ok: true } : { ok: false, reason: `${h.pendingEndings} run ending(s) not yet stored (${h.lastError ?? 'store unavailable'}); retried until they are` };
        },
        shuttingDown: () => this.connections.shuttingDown,
      },
    });
    this.connections.attach(this.app.server, c.gateway, !!tls);
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : port;
    const scheme = tls ? 'https' : 'http';
    const urlHost = host.includes(':') ? `[${host}]` : host;
    this.info = { pid: process.pid, url: `${scheme}://${urlHost}:${actualPort}`, host, port: actualPort, startedAt: this.startedAt.toISOString(), stateDir: this.opts.stateDir, ...(c.source ? { config: c.source } : {}) };
    // Whole or not at all: the CLI (and tests) read it as soon as it exists.
    const infoFile = join(this.opts.stateDir, 'gateway.json');
    writeFileSync(`${infoFile}.tmp`, JSON.stringify(this.info, null, 2), { mode: 0o600 });
    renameSync(`${infoFile}.tmp`, infoFile);
    this.runs.warmUp();
    this.log.info({ url: this.info.url, stateDir: this.opts.stateDir, profiles: Object.keys(c.agents) }, 'gateway listening');
    return this.info;
  }

  get url(): string {
    if (!this.info) throw new Error('gateway not started');
    return this.info.url;
  }

  /**
   * Graceful: stop accepting, close idle connections, let runs and requests in flight finish up
   * to the grace period, kill the runs left and answer the requests left with 503, close.
   */
  stop(graceMs = this.opts.config.gateway.shutdownGraceSeconds * 1000): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ graceMs }, 'gateway stopping');
      this.connections.begin();
      const closing = this.app?.close();
      // The run manager kills what is left at the end of the grace; should that itself hang, go on.
      let cap: { clear(): void } | undefined;
      await Promise.race([this.runs.shutdown(graceMs), new Promise<void>((r) => (cap = setLongTimeout(r, graceMs + SHUTDOWN_SLACK_MS)))]);
      cap?.clear();
      this.connections.finish();
      await closing;
      this.storeHealth.stop();
      this.stopAuditRecovery?.();
      await this.rejections.close().catch(() => undefined);
      try {
        rmSync(join(this.opts.stateDir, 'gateway.json'), { force: true });
      } catch {
        /* best effort */
      }
      this.sandboxes.close();
      this.secrets.stop();
      this.identity.close();
      this.stopPolicyWatch?.();
      process.off('SIGHUP', this.onSighup);
      await this.auditLog.close();
      this.store.close();
      this.log.info('gateway stopped');
    })().finally(() => this.lock.release()); // last, even if a step failed: the state dir is free once all is closed
    return this.stopping;
  }
}
