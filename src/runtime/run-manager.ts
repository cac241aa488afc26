/**
 * Thread-bound runs: a fresh isolated instance per request, limits enforced by the runtime,
 * auto-destroy when the run ends, concurrency caps with a bounded queue, a warm pool of
 * never-used instances, session-bound mode, and deterministic record/replay.
 */
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { ClawguardConfig, IsolationLevel, ProfileConfig } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import type { Metrics } from '../monitor/index.js';
import type { AuditSink, OutputFilter, Pipeline, Principal, ToolResult } from '../pipeline/index.js';
import { type RunRecord, type RunState, type Store, TERMINAL_STATES } from '../store/index.js';
import { toolLoopAgentSource } from './builtin-agents.js';
import { type AgentInstance, type AgentSource, type HostBridge, type InstanceFactory, InstanceFailure } from './instance.js';
import { Recorder, Replayer, type ReplayReport } from './recorder.js';
import { type RunEnding, RunEndings } from './run-endings.js';
import { RunLogBudget } from './run-logs.js';
import { handedBack, keptOutput } from './run-output.js';
import { Slots } from './scheduler.js';
import { SessionTable } from './sessions.js';
import { ProfileStats } from './stats.js';
import { WarmPool } from './warm-pool.js';

export interface RunManagerDeps {
  config: ClawguardConfig;
  store: Store;
  pipeline: Pipeline;
  audit: AuditSink;
  metrics: Metrics;
  log: Logger;
  factories: Record<IsolationLevel, InstanceFactory>;
  /** Tool descriptions offered to the model by the built-in loop. */
  describeTools: () => Array<{ name: string; description: string }>;
  /** Issues and revokes the run-scoped identity (identity module seam). */
  runIdentity?: { issue(principal: Principal): void; revoke(runId: string): void };
  /** Applied to everything a run hands back (output, error message) before it is stored or served. */
  output?: OutputFilter;
  /** Seq of a run's run.end already in the audit log (see RunEndings.recover). */
  recordedEnd?: (runId: string) => number | undefined;
}

/** What a kill did: the run's record, and whether the kill ended it (false: it had already ended). */
export interface KillOutcome {
  record: RunRecord;
  killed: boolean;
}

export interface SubmitRequest {
  profile: string;
  input?: unknown;
  sessionKey?: string;
}

interface ActiveRun {
  runId: string;
  profile: ProfileConfig;
  instance?: AgentInstance;
  principal: Principal;
  controller: AbortController;
  killReason?: 'operator' | 'shutdown';
  logs: RunLogBudget;
  done: Promise<RunRecord>;
}

interface ProfileRuntime {
  profile: ProfileConfig;
  slots: Slots;
  pool: WarmPool;
  stats: ProfileStats;
}

const now = () => new Date().toISOString();


export class RunManager {
  private readonly profiles = new Map<string, ProfileRuntime>();
  private readonly active = new Map<string, ActiveRun>();
  private readonly sessions: SessionTable;
  private accepting = true;
  private readonly endings: RunEndings;

  constructor(private readonly d: RunManagerDeps) {
    this.endings = new RunEndings({ store: d.store, audit: d.audit, log: d.log.child({ component: 'runs' }), ...(d.recordedEnd ? { recordedEnd: d.recordedEnd } : {}) });
    for (const p of Object.values(d.config.agents)) {
      const factory = d.factories[p.isolation];
      const update = () => this.updateGauges(p.name);
      const pool = new WarmPool(factory, p.runtime === 'session' ? 0 : p.warmPool, p.memoryMb, update);
      this.profiles.set(p.name, { profile: p, slots: new Slots(p.maxConcurrent, p.queueLimit, update), pool, stats: new ProfileStats() });
    }
    this.sessions = new SessionTable((reason, key) => d.log.info({ sessionKey: key, reason }, 'session instance destroyed'));
  }

  /**
   * Before the first run: runs a previous gateway left unfinished end `killed` (gateway_restart),
   * and every ending a crash kept out of the audit log gets its run.end (marked recovered).
   */
  async recover(): Promise<{ abandoned: number; recorded: number }> {
    const r = await this.endings.recover(now());
    if (r.abandoned > 0 || r.recorded > 0) this.d.log.warn(r, 'runs left unfinished by a previous gateway were marked killed; missing run.end events written');
    return r;
  }

  /** Endings not yet durable (a full disk, a lock held elsewhere): retried until stored. */
  health(): { pendingEndings: number; lastError?: string } {
    const h = this.endings.health();
    return { pendingEndings: h.pending, ...(h.lastError ? { lastError: h.lastError } : {}) };
  }

  /** Start the warm pools (after the gateway is up, so start-up stays fast). */
  warmUp(): void {
    for (const r of this.profiles.values()) r.pool.refill();
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  activeCount(): number {
    return this.active.size;
  }

  /** Live instances per isolation level, and how many of them are accounted for by pools and sessions. */
  instanceCounts(): { live: Record<IsolationLevel, number>; idle: Record<IsolationLevel, number> } {
    const idle: Record<IsolationLevel, number> = { thread: 0, process: 0 };
    for (const rt of this.profiles.values()) idle[rt.profile.isolation] += rt.pool.size + this.sessions.count(rt.profile.name);
    return { live: { thread: this.d.factories.thread.live, process: this.d.factories.process.live }, idle };
  }

  profileRuntime(name: string): { slots: Slots; pool: WarmPool } | undefined {
    return this.profiles.get(name);
  }

  /** Accepts a run: 202-style. Throws profile_not_found, queue_full, sandbox_unavailable, unavailable. */
  submit(req: SubmitRequest): { runId: string; done: Promise<RunRecord> } {
    if (!this.accepting) throw new ClawguardError('unavailable', 'the gateway is shutting down');
    const rt = this.profiles.get(req.profile);
    if (!rt) throw new ClawguardError('profile_not_found', `no profile named "${req.profile}" (known: ${[...this.profiles.keys()].join(', ') || 'none'})`);
    const p = rt.profile;
    const avail = this.d.factories[p.isolation].available();
    if (!avail.ok) {
      this.d.metrics.rejectedTotal.inc({ profile: p.name, reason: 'isolation_unavailable' });
      throw new ClawguardError('sandbox_unavailable', `profile "${p.name}" needs ${p.isolation} isolation, which is unavailable here: ${avail.reason}`);
    }
    if (p.runtime === 'session' && !req.sessionKey) throw new ClawguardError('bad_request', `profile "${p.name}" is session-bound: sessionKey is required`);
    if (rt.slots.wouldOverflow()) {
      this.d.metrics.rejectedTotal.inc({ profile: p.name, reason: 'queue_full' });
      throw new ClawguardError('queue_full', `profile "${p.name}" is at max-concurrent ${p.maxConcurrent} with ${rt.slots.queued} queued (limit ${p.queueLimit})`, { retryAfter: Math.max(1, Math.ceil((rt.stats.percentile(50) ?? 1000) / 1000)) });
    }
    const runId = uuidv7();
    this.d.store.runs.insert({ runId, profile: p.name, state: 'queued', isolation: p.isolation, input: req.input ?? null, createdAt: now(), deterministic: p.deterministic, ...(req.sessionKey ? { sessionKey: req.sessionKey } : {}) });
    const principal: Principal = { kind: 'run', agentId: `run:${runId}`, runId, profile: p.name, trustLevel: p.trustLevel, capabilities: [...p.capabilities], isolation: p.isolation, door: 'run' };
    const active: ActiveRun = { runId, profile: p, principal, controller: new AbortController(), logs: new RunLogBudget(p.maxLogLines, p.maxLogBytes), done: Promise.resolve(undefined as never) };
    this.active.set(runId, active);
    active.done = this.execute(rt, active, req);
    return { runId, done: active.done };
  }

  /** The stored record; a run whose ending is not yet durable shows that ending, with durable: false. */
  get(runId: string): (RunRecord & { durable?: false }) | undefined {
    const r = this.d.store.runs.get(runId);
    const p = this.endings.pendingEnding(runId);
    if (!r || !p || p.stored) return r;
    const e = p.ending;
    return { ...r, state: e.state, endedAt: e.endedAt, durationMs: e.durationMs, outputTruncated: e.outputTruncated, logsTruncated: e.logsTruncated, ...(e.output !== undefined ? { output: e.output } : {}), ...(e.error ? { error: e.error } : {}), ...(e.reason ? { reason: e.reason } : {}), durable: false };
  }

  list(filter: { profile?: string; state?: string; limit?: number }): RunRecord[] {
    return this.d.store.runs.list(filter);
  }

  /**
   * Kill a queued or running run and say what happened: killed, or it had already ended (then
   * nothing was done). Undefined for an unknown run; store_unavailable while its ending cannot be stored.
   */
  async kill(runId: string, reason: 'operator' | 'shutdown' = 'operator'): Promise<KillOutcome | undefined> {
    const a = this.active.get(runId);
    if (!a) {
      const r = this.get(runId);
      if (r && !TERMINAL_STATES.includes(r.state)) throw new ClawguardError('store_unavailable', `run ${runId} is not running here, but its stored state (${r.state}) is not final yet; try again shortly`, { retryAfter: 1 });
      return r ? { record: r, killed: false } : undefined;
    }
    a.killReason = reason;
    a.controller.abort();
    a.instance?.destroy(reason === 'operator' ? 'killed' : 'shutdown');
    const record = await a.done;
    return { record, killed: record.state === 'killed' && record.reason === reason };
  }

  private updateGauges(name: string): void {
    const rt = this.profiles.get(name);
    if (!rt) return;
    this.d.metrics.active.set({ profile: name }, rt.slots.active);
    this.d.metrics.queued.set({ profile: name }, rt.slots.queued);
    this.d.metrics.warmPoolSize.set({ profile: name }, rt.pool.size);
  }

  private source(p: ProfileConfig): AgentSource {
    if (p.entry) return { kind: 'file', path: p.entry };
    const allowed = this.d.describeTools().filter((t) => t.name !== 'model.chat' && p.tools.allow.some((r) => r.tool === t.name || r.tool === '*' || (r.tool.endsWith('.*') && t.name.startsWith(r.tool.slice(0, -1)))));
    return { kind: 'inline', name: 'tool-loop', code: toolLoopAgentSource(p.maxSteps, allowed) };
  }

  private bridge(a: ActiveRun, mode: { recorder?: Recorder; replayer?: Replayer }): HostBridge {
    const log = this.d.log.child({ runId: a.runId, profile: a.profile.name, agent: true });
    return {
      call: async (kind, name, args): Promise<ToolResult | unknown> => {
        // Capabilities die with the run: a handle kept by agent code is useless afterwards.
        if (!this.active.has(a.runId) || a.controller.signal.aborted) return { ok: false, error: { code: 'revoked', message: 'the run has ended; its capabilities are revoked' } };
        const tool = kind === 'model' ? 'model.chat' : name;
        if (mode.replayer) return mode.replayer.next(kind, tool, args);
        const r = await this.d.pipeline.callTool({ principal: a.principal, tool, args, signal: a.controller.signal });
        mode.recorder?.call(kind, tool, args, r);
        return r;
      },
      log: (level, msg, fields) => {
        const verdict = a.logs.admit(msg, fields);
        if (verdict === 'write') log[level]({ fields }, msg);
        else if (verdict === 'cut') log.warn({ maxLogLines: a.profile.maxLogLines, maxLogBytes: a.profile.maxLogBytes }, 'the run reached its log budget; further ctx.log lines are dropped');
      },
    };
  }

  private async execute(rt: ProfileRuntime, a: ActiveRun, req: SubmitRequest): Promise<RunRecord> {
    const p = rt.profile;
    let release: () => void;
    try {
      release = await rt.slots.acquire(a.controller.signal);
    } catch {
      const reason = a.killReason ?? 'shutdown';
      return await this.finalize(rt, a, 'killed', { reason, error: { code: 'killed', message: `killed while queued (${reason})` } });
    }
    try {
      if (a.killReason) return await this.finalize(rt, a, 'killed', { reason: a.killReason, error: { code: 'killed', message: `killed while queued (${a.killReason})` } });
      try {
        await this.d.audit.record({ type: 'run.start', agentId: a.principal.agentId, runId: a.runId, subject: p.name, action: 'run.start', resource: `profile:${p.name}`, decision: 'allow', payload: { isolation: p.isolation, sessionKey: req.sessionKey ?? null } });
      } catch (e) {
        return await this.finalize(rt, a, 'rejected', { error: { code: 'audit_unavailable', message: `run refused: the audit record could not be written (${(e as Error).message})` } });
      }
      const startedAt = now();
      const t0 = performance.now();
      try {
        this.d.store.runs.update(a.runId, { state: 'running', startedAt });
      } catch (e) {
        return await this.finalize(rt, a, 'failed', { startedAt, t0, error: { code: 'store_unavailable', message: `the run could not be started: the store is unavailable (${(e as Error).message})` } });
      }
      this.d.runIdentity?.issue(a.principal);
      this.d.log.info({ runId: a.runId, profile: p.name, isolation: p.isolation, event: 'run.start' }, 'run started');
      const seed = randomInt(0, 2 ** 31);
      const recorder = p.deterministic ? new Recorder(seed) : undefined;
      let instance: AgentInstance;
      let session: ReturnType<SessionTable['get']> | undefined;
      try {
        if (p.runtime === 'session') {
          session = await this.sessions.acquire(`${p.name}\u0000${req.sessionKey}`, p, () => this.d.factories[p.isolation].create({ memoryMb: p.memoryMb, reusable: true }));
          instance = session.instance;
        } else instance = (await rt.pool.acquire()).instance;
      } catch (e) {
        return await this.finalize(rt, a, 'failed', { startedAt, t0, error: { code: 'instance_unavailable', message: `could not start an agent instance: ${(e as Error).message}` } });
      }
      a.instance = instance;
      if (a.killReason) instance.destroy('killed');
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        instance.abort();
        instance.destroy('timeout');
      }, p.timeoutSeconds * 1000);
      // The outcome first; then the ending, outside the catch: a store that refuses the ending is not the agent's failure.
      let outcome: [RunState, Parameters<RunManager['finalize']>[3]];
      try {
        const result = await instance.run({ runId: a.runId, profile: p.name, input: req.input ?? null, source: this.source(p), seed, recordClock: p.deterministic, host: this.bridge(a, { ...(recorder ? { recorder } : {}) }), maxOutputBytes: p.maxOutputBytes });
        clearTimeout(timer);
        const { output, cut } = keptOutput(result.outputJson, p.maxOutputBytes, this.d.output);
        if (recorder) {
          recorder.rec.clock = result.clock;
          if (result.clockOverflow) recorder.rec.clockOverflow = true;
          this.d.store.runs.saveRecording(a.runId, recorder.rec);
        }
        outcome = ['succeeded', { startedAt, t0, output, outputTruncated: cut, usageFrom: instance }];
      } catch (e) {
        clearTimeout(timer);
        const f = e instanceof InstanceFailure ? e : new InstanceFailure('crashed', (e as Error).message);
        const code = f.agentCode ?? (f.kind === 'crashed' ? 'crashed' : f.kind === 'load_error' ? 'agent_load_failed' : 'agent_error');
        if (timedOut) outcome = ['timed_out', { startedAt, t0, usageFrom: instance, error: { code: 'timeout', message: `the run exceeded its timeout of ${p.timeoutSeconds} s and was killed` } }];
        else if (f.kind === 'memory_limit') outcome = ['killed', { startedAt, t0, usageFrom: instance, reason: 'memory_limit', error: { code: 'memory_limit', message: `the agent exceeded its memory limit of ${p.memoryMb} MiB and was killed` } }];
        else if (a.killReason) outcome = ['killed', { startedAt, t0, usageFrom: instance, reason: a.killReason, error: { code: 'killed', message: `killed (${a.killReason})` } }];
        else outcome = ['failed', { startedAt, t0, usageFrom: instance, error: { code, message: f.message } }];
      } finally {
        if (session) {
          if (instance.destroyed) session.releaseCurrent?.();
          this.sessions.releaseLater(session);
        } else instance.destroy('completed');
      }
      return await this.finalize(rt, a, outcome[0], outcome[1]);
    } finally {
      release();
    }
  }

  private async finalize(
    rt: ProfileRuntime,
    a: ActiveRun,
    state: RunState,
    o: { startedAt?: string; t0?: number; output?: unknown; outputTruncated?: boolean; error?: { code: string; message: string }; reason?: string; usageFrom?: AgentInstance },
  ): Promise<RunRecord> {
    const p = rt.profile;
    const durationMs = o.t0 !== undefined ? Math.round((performance.now() - o.t0) * 1000) / 1000 : 0;
    this.active.delete(a.runId);
    this.d.runIdentity?.revoke(a.runId);
    a.controller.abort();
    const ending: RunEnding = {
      runId: a.runId,
      profile: p.name,
      agentId: a.principal.agentId,
      state,
      endedAt: now(),
      durationMs,
      ...(o.output !== undefined ? { output: o.output } : {}),
      outputTruncated: o.outputTruncated ?? false,
      logsTruncated: a.logs.truncated,
      ...(o.error ? { error: handedBack(o.error, this.d.output) } : {}),
      ...(o.reason ? { reason: o.reason } : {}),
    };
    const m = this.d.metrics;
    m.runsTotal.inc({ profile: p.name, outcome: state });
    if (o.startedAt) m.executionSeconds.observe({ profile: p.name }, durationMs / 1000);
    if (state === 'timed_out') m.timeoutsTotal.inc({ profile: p.name });
    if (state === 'failed' || state === 'timed_out' || state === 'killed') m.errorsTotal.inc({ profile: p.name });
    if (o.usageFrom) {
      const u = o.usageFrom.usage();
      m.heapBytes.set({ profile: p.name }, u.heapBytes);
      if (u.cpuSeconds > 0) m.cpuSecondsTotal.inc({ profile: p.name }, u.cpuSeconds);
    }
    rt.stats.record(state, durationMs);
    this.d.log.info({ runId: a.runId, profile: p.name, event: 'run.end', state, durationMs, ...(ending.error ? { error: ending.error } : {}) }, 'run ended');
    // Durable before it is reported: the caller hears of the ending once the store has it.
    return this.endings.settle(ending);
  }

  /** Re-execute a deterministic run against its record; report whether it made the same calls in the same order. */
  async replay(runId: string): Promise<ReplayReport> {
    const run = this.get(runId);
    if (!run) throw new ClawguardError('run_not_found', `no run ${runId}`);
    if (!TERMINAL_STATES.includes(run.state)) throw new ClawguardError('conflict', `run ${runId} is still ${run.state}`);
    const rec = this.d.store.runs.getRecording(runId);
    if (!rec) throw new ClawguardError('conflict', `run ${runId} has no recording (the profile is not deterministic, or the run did not finish)`);
    const rt = this.profiles.get(run.profile);
    if (!rt) throw new ClawguardError('profile_not_found', `profile "${run.profile}" of run ${runId} is no longer configured`);
    const p = rt.profile;
    const replayer = new Replayer(rec);
    const a: ActiveRun = { runId: `replay-${runId}`, profile: p, principal: { kind: 'run', agentId: `replay:${runId}`, runId: `replay-${runId}`, profile: p.name, trustLevel: p.trustLevel, capabilities: [], isolation: p.isolation, door: 'run' }, controller: new AbortController(), logs: new RunLogBudget(p.maxLogLines, p.maxLogBytes), done: Promise.resolve(undefined as never) };
    this.active.set(a.runId, a);
    const instance = await this.d.factories[p.isolation].create({ memoryMb: p.memoryMb });
    const timer = setTimeout(() => instance.destroy('timeout'), p.timeoutSeconds * 1000);
    try {
      const source = run.profile && p.entry ? ({ kind: 'file', path: p.entry } as const) : this.source(p);
      const result = await instance.run({ runId, profile: p.name, input: run.input, source, seed: rec.seed, replayClock: rec.clock, recordClock: false, host: this.bridge(a, { replayer }), maxOutputBytes: p.maxOutputBytes });
      const divergence = replayer.finish();
      // Compared with what the run kept: redacted and cut the same way.
      const outputSame = Replayer.sameOutput(keptOutput(result.outputJson, p.maxOutputBytes, this.d.output).output, run.output);
      return { runId, same: !divergence && outputSame, recordedCalls: rec.calls.length, replayedCalls: replayer.replayed, outputSame, ...(divergence ? { divergence } : {}), state: 'succeeded' };
    } catch (e) {
      const divergence = replayer.finish();
      return { runId, same: false, recordedCalls: rec.calls.length, replayedCalls: replayer.replayed, outputSame: false, ...(divergence ? { divergence } : {}), state: 'failed', error: { code: e instanceof InstanceFailure ? (e.agentCode ?? e.kind) : 'replay_failed', message: (e as Error).message } };
    } finally {
      clearTimeout(timer);
      instance.destroy('completed');
      this.active.delete(a.runId);
    }
  }

  status(): Array<Record<string, unknown>> {
    return [...this.profiles.values()].map(({ profile: p, slots, pool, stats }) => {
      const avail = this.d.factories[p.isolation].available();
      return {
        profile: p.name,
        runtime: p.runtime,
        isolation: p.isolation,
        isolationAvailable: avail.ok,
        ...(avail.reason ? { isolationUnavailableReason: avail.reason } : {}),
        model: p.model ?? null,
        timeoutSeconds: p.timeoutSeconds,
        maxConcurrent: p.maxConcurrent,
        deterministic: p.deterministic,
        active: slots.active,
        queued: slots.queued,
        peakActive: slots.peakActive,
        totals: { ...stats.totals },
        p50Ms: stats.percentile(50),
        p95Ms: stats.percentile(95),
        warmPool: { target: p.runtime === 'session' ? 0 : p.warmPool, ready: pool.size, healthy: pool.healthy && avail.ok, ...(pool.lastError ? { lastError: pool.lastError } : {}) },
        ...(p.runtime === 'session' ? { sessions: this.sessions.count(p.name) } : {}),
      };
    });
  }

  /** Stop accepting; let running instances finish up to the grace period; then kill them. */
  async shutdown(graceMs: number): Promise<void> {
    this.accepting = false;
    for (const a of this.active.values()) {
      if (!a.instance) {
        a.killReason = 'shutdown';
        a.controller.abort();
      }
    }
    const pending = [...this.active.values()].map((a) => a.done.catch(() => undefined));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    await Promise.all([...this.active.keys()].map((id) => this.kill(id, 'shutdown').catch(() => undefined)));
    for (const rt of this.profiles.values()) rt.pool.close();
    this.sessions.closeAll();
    const left = await this.endings.flush();
    if (left > 0) this.d.log.error({ left }, 'run endings still not stored at shutdown: those runs are marked killed (gateway_restart) on the next start');
  }

  /** Start-up warnings: a missing agent module fails its runs (clearly), not the gateway. */
  static async checkEntry(p: ProfileConfig): Promise<string | undefined> {
    if (!p.entry) return undefined;
    try {
      await readFile(p.entry);
      return undefined;
    } catch (e) {
      return `agents.${p.name}.entry: ${p.entry} cannot be read (${(e as NodeJS.ErrnoException).code})`;
    }
  }
}
