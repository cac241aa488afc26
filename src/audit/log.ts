/**
 * The audit log writer. `record()` resolves only once the event is durable: events queue up and
 * are written together in one SQLite transaction (WAL, synchronous=FULL: one fsync per group),
 * each chained to the previous by hash and appended to the Merkle tree; every N events or T
 * seconds a signed checkpoint is written. If the write fails, every event of the group is
 * rejected with `audit_unavailable` (the caller then denies the action) and the chain state is
 * left as it was, so a later write continues it. A lock held by another connection never blocks
 * the event loop: the writer's connection does not wait for locks (busy timeout 0); the group
 * stays queued and is retried with backoff, and events that have waited `lockWaitMs` are refused.
 * An event too large to store whole is refused, never stored in part.
 *
 * The signed head is published to the witnesses (`audit.witness`) every second when the log grew
 * (publisher.ts); `checkAtStart()` refuses a log that is broken or behind a witness (start-check.ts).
 */
import type { Registry } from 'prom-client';
import { ClawguardError } from '../errors/index.js';
import type { AuditEventInput, AuditSink } from '../pipeline/index.js';
import { defaultDbFile, openSqlite, type SqliteDb } from '../store/index.js';
import { type Checkpoint, checkpointFromRow, signCheckpoint } from './checkpoint.js';
import { type Encoded, encodeEvents, MAX_PAYLOAD_BYTES, payloadText, type Row, TooLarge } from './encode.js';
import { CompactRange, GENESIS, leafOf } from './hash.js';
import type { KeyStatement } from './key-history.js';
import { type SigningKey, spkiBase64 } from './keys.js';
import { openSigningKey } from './log-keys.js';
import { AuditMetrics } from './metrics.js';
import { isBusy, Pruner } from './prune.js';
import { type ChainHost, LogTrust } from './trust.js';
import { anchorOf, type CheckpointRow, migrateAudit, segmentOfDb } from './tables.js';
import { markAudited } from './request-scope.js';
import { TelemetryStream, type TelemetryOptions } from './telemetry.js';
import type { AuditReceipt } from './types.js';
import { type WitnessSpec, type WitnessTarget, witnessTarget } from './witness-targets.js';

export interface AuditLogger {
  debug?(obj: object, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AuditLogOptions {
  stateDir: string;
  /** Database file (default: the state dir's store). */
  file?: string;
  checkpointEvery?: number;
  checkpointSeconds?: number;
  retentionDays?: number;
  registry?: Registry;
  log?: AuditLogger;
  /** Clock in ms (tests). */
  now?: () => number;
  telemetry?: TelemetryOptions;
  /** SQLite's own busy timeout on the writer connection (default 0: never wait on the event loop). */
  busyTimeoutMs?: number;
  /** How long an event may wait, queued, for a lock held by another connection before it is refused (default 1000 ms). */
  lockWaitMs?: number;
  /** A payload larger than this (UTF-8 bytes, canonical JSON) is refused with its event (default 256 KiB). */
  maxPayloadBytes?: number;
  /** How often retention pruning runs (default hourly; 0 = only when called). */
  pruneEveryMs?: number;
  /** Where the key history and signed heads are published (`audit.witness`). */
  witness?: WitnessSpec[];
  /** How often the head is published when the log grew (default 1000 ms). */
  witnessEveryMs?: number;
}

interface Pending {
  e: AuditEventInput;
  time: string;
  /** performance.now() when queued: how long it has waited for a lock. */
  at: number;
  resolve: (r: AuditReceipt) => void;
  reject: (e: Error) => void;
}

export class AuditLog implements AuditSink {
  private db: SqliteDb | undefined;
  private key: SigningKey | undefined;
  private openError: string | undefined;
  private openBadSeq: number | undefined;
  private keyError: string | undefined;
  private keyPreexisted = false;
  private keys: KeyStatement[] = [];
  private segmentNo = 1;
  /** Set when the start check refused the log: nothing more is written to it. */
  private refused: string | undefined;
  private seq = 0;
  private lastHash = GENESIS;
  private frontier = new CompactRange();
  private anchor = 0;
  private lastCheckpoint: { treeSize: number; time: string } | undefined;
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private failures = 0;
  private lastFailure: { at: string; message: string } | undefined;
  /** Whether the most recent write failed (times can tie within a millisecond; order cannot). */
  private lastWriteFailed = false;
  /** Another connection holds the write lock: since when, and the retry waiting for it. */
  private locked: { since: string; message: string } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 0;
  private checkpointWanted = false;
  private readonly pruner: Pruner;
  private readonly trust: LogTrust;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly metrics: AuditMetrics;
  private readonly telemetry: TelemetryStream | undefined;
  private readonly now: () => number;
  private readonly every: number;
  private stmts: { event: import('better-sqlite3').Statement; checkpoint: import('better-sqlite3').Statement } | undefined;
  private writeBatch: ((rows: Row[], cp: Checkpoint | undefined, frontier: string[] | undefined) => void) | undefined;

  private constructor(private readonly opts: AuditLogOptions) {
    this.metrics = new AuditMetrics(opts.registry);
    this.now = opts.now ?? Date.now;
    this.every = opts.checkpointEvery ?? 1000;
    this.pruner = new Pruner(
      {
        db: () => this.db,
        writable: () => !this.closed && !this.refused,
        anchor: () => this.anchor,
        setAnchor: (a) => (this.anchor = a),
        limit: () => this.trust.pruneLimit(),
        append: (e) => this.append(e),
        ...(opts.log ? { log: opts.log } : {}),
      },
      opts.retentionDays ?? 90,
    );
    this.trust = new LogTrust(this.host(), (opts.witness ?? []).map(witnessTarget), { everyMs: opts.witnessEveryMs ?? 1000, metrics: this.metrics, ...(opts.log ? { log: opts.log } : {}) });
    let telemetry: TelemetryStream | undefined;
    try {
      telemetry = opts.telemetry ? new TelemetryStream(opts.telemetry) : undefined;
    } catch (e) {
      opts.log?.error({ err: (e as Error).message }, 'telemetry output unavailable');
    }
    this.telemetry = telemetry;
  }

  /** Open (and recover) the log. Never throws: if the store cannot be opened, every record() fails and status says why. */
  static open(opts: AuditLogOptions): AuditLog {
    const log = new AuditLog(opts);
    let db: SqliteDb | undefined;
    try {
      // Opening may wait for a lock: this happens once, before the gateway listens.
      db = openSqlite({ file: opts.file ?? defaultDbFile(opts.stateDir), busyTimeoutMs: 5000 });
      migrateAudit(db);
      log.db = db;
      log.segmentNo = segmentOfDb(db);
      log.prepare(db);
      log.recover(db);
    } catch (e) {
      log.openBadSeq = (e as { seq?: number }).seq;
      log.openError = `audit store unavailable: ${(e as Error).message}`;
      opts.log?.error({ err: (e as Error).message }, 'audit log could not be opened; every action will be denied');
    }
    const usable = db && log.db && !log.openError ? db : undefined;
    const empty = !!usable && log.seq === 0 && log.anchor === 0 && !usable.prepare('SELECT 1 FROM audit_checkpoints LIMIT 1').get();
    try {
      const k = openSigningKey(usable, opts.stateDir, { empty, segment: log.segmentNo });
      Object.assign(log, { key: k.key, keyError: k.keyError, keys: k.keys, keyPreexisted: k.keyPreexisted });
    } catch (e) {
      log.keyError = `checkpoint signing key unavailable: ${(e as Error).message}`;
    }
    if (log.keyError) opts.log?.error({ err: log.keyError }, 'audit checkpoints cannot be signed');
    try {
      db?.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 0}`);
    } catch {
      /* closed */
    }
    const secs = opts.checkpointSeconds ?? 60;
    log.timers.push(setInterval(() => log.checkpointNow(), secs * 1000));
    const pruneEvery = opts.pruneEveryMs ?? 3_600_000;
    if (pruneEvery > 0) {
      log.timers.push(setTimeout(() => void log.prune().catch(() => undefined), 1000));
      log.timers.push(setInterval(() => void log.prune().catch(() => undefined), pruneEvery));
    }
    for (const t of log.timers) t.unref();
    return log;
  }

  private prepare(db: SqliteDb): void {
    const event = db.prepare(
      'INSERT INTO audit_events (seq, time, type, agent_id, run_id, subject, action, resource, decision, tier, policies, payload_hash, prev_hash, hash, payload_salt, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const checkpoint = db.prepare(
      'INSERT INTO audit_checkpoints (tree_size, time, root, last_hash, frontier, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.stmts = { event, checkpoint };
    this.writeBatch = db.transaction((rows: Row[], cp: Checkpoint | undefined, frontier: string[] | undefined) => {
      for (const r of rows) event.run(r);
      if (cp && frontier) checkpoint.run(cp.treeSize, cp.time, cp.root, cp.lastHash, JSON.stringify(frontier), cp.keyId, cp.publicKey, cp.signature);
    });
  }

  /** Rebuild the chain head and the Merkle frontier from the last checkpoint and the events after it. */
  private recover(db: SqliteDb): void {
    this.anchor = anchorOf(db);
    const cp = db.prepare('SELECT * FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1').get() as CheckpointRow | undefined;
    let from = 0;
    if (cp) {
      this.frontier = CompactRange.fromHex(cp.tree_size, JSON.parse(cp.frontier) as string[]);
      this.lastHash = cp.last_hash;
      this.seq = cp.tree_size;
      this.lastCheckpoint = { treeSize: cp.tree_size, time: cp.time };
      from = cp.tree_size;
    } else if (this.anchor > 0) throw Object.assign(new Error(`the audit log was pruned up to seq ${this.anchor} but its anchor checkpoint is missing`), { seq: this.anchor + 1 });
    for (const r of db.prepare('SELECT seq, hash FROM audit_events WHERE seq > ? ORDER BY seq').iterate(from) as IterableIterator<{ seq: number; hash: string }>) {
      if (r.seq !== this.seq + 1) throw Object.assign(new Error(`audit events are not contiguous after seq ${this.seq} (found ${r.seq}); run "clawguard audit verify"`), { seq: this.seq + 1 });
      this.frontier.append(leafOf(r.hash));
      this.lastHash = r.hash;
      this.seq = r.seq;
    }
    this.metrics.lastSeq.set(this.seq);
  }

  /** AuditSink: resolves once the event is durable; rejects with audit_unavailable if it cannot be written. */
  record(e: AuditEventInput): Promise<AuditReceipt> {
    return this.append(e);
  }

  /** Durable append. Resolves with the event's seq and hash once committed; rejects with audit_unavailable. */
  append(e: AuditEventInput): Promise<AuditReceipt> {
    markAudited();
    if (this.closed) return Promise.reject(new ClawguardError('audit_unavailable', 'the audit log is closed'));
    if (this.refused) return Promise.reject(new ClawguardError('audit_unavailable', this.refused));
    return new Promise<AuditReceipt>((resolve, reject) => {
      this.queue.push({ e, time: new Date(this.now()).toISOString(), at: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Reject events (their actions are denied); `storeFault`: the store failed, which status reports until a write succeeds. */
  private refuse(batch: Pending[], message: string, storeFault = true): void {
    if (batch.length === 0) return;
    const err = new ClawguardError('audit_unavailable', message);
    this.failures += batch.length;
    this.metrics.failures.inc(batch.length);
    this.lastFailure = { at: new Date().toISOString(), message };
    if (storeFault) this.lastWriteFailed = true;
    this.opts.log?.error({ events: batch.length, err: message }, 'audit write failed; the actions are denied');
    for (const p of batch) p.reject(err);
  }

  /**
   * The store is locked by another connection: keep the group queued (in order, ahead of anything
   * newer) and try again after a short, growing delay; refuse the events that have waited long enough.
   */
  private waitForLock(batch: Pending[], err: Error): void {
    this.metrics.lockWaits.inc();
    const bound = this.opts.lockWaitMs ?? 1000;
    const t = performance.now();
    const message = `the audit store is locked by another connection (${err.message})`;
    if (!this.locked) {
      this.locked = { since: new Date().toISOString(), message };
      this.opts.log?.warn({ err: err.message }, 'audit store locked by another connection; events wait, queued, and are retried');
    }
    const expired = batch.filter((p) => t - p.at >= bound);
    this.refuse(expired, `${message}; refused after waiting ${bound} ms`);
    this.queue = batch.filter((p) => t - p.at < bound).concat(this.queue);
    this.retryLater();
  }

  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryDelayMs = Math.min(100, Math.max(2, this.retryDelayMs * 2));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, this.retryDelayMs);
  }

  private unlocked(): void {
    if (this.locked) this.opts.log?.info({ since: this.locked.since }, 'audit store writable again');
    this.locked = undefined;
    this.retryDelayMs = 0;
  }

  /** Write everything queued as one transaction (group commit). */
  flush(): void {
    this.scheduled = false;
    if (this.retryTimer) return;
    const queued = this.queue;
    this.queue = [];
    if (queued.length === 0 && !this.checkpointWanted) return;
    if (!this.db || !this.writeBatch || this.openError || this.refused) return this.refuse(queued, this.refused ?? this.openError ?? 'audit store unavailable');
    const t0 = performance.now();
    const max = this.opts.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    const batch: Pending[] = [];
    const payloads: string[] = [];
    for (const p of queued) {
      try {
        payloads.push(payloadText(p.e.payload, max));
        batch.push(p);
      } catch (err) {
        if (!(err instanceof TooLarge)) return this.refuse(queued, `audit event could not be encoded: ${(err as Error).message}`);
        this.refuse([p], err.message, false);
      }
    }
    const frontier = this.frontier.clone();
    let encoded: Encoded;
    try {
      encoded = encodeEvents(batch, payloads, this.seq, this.lastHash, frontier);
    } catch (err) {
      return this.refuse(batch, `audit event could not be encoded: ${(err as Error).message}`);
    }
    const { rows, out, seq, lastHash: prev } = encoded;
    const since = seq - (this.lastCheckpoint?.treeSize ?? this.anchor);
    const cp = since > 0 && (since >= this.every || this.checkpointWanted) ? this.makeCheckpoint(seq, prev, frontier) : undefined;
    if (rows.length === 0 && !cp) {
      this.checkpointWanted = false;
      return;
    }
    try {
      this.writeBatch(rows, cp, cp ? frontier.toHex() : undefined);
    } catch (err) {
      if (isBusy(err)) return this.waitForLock(batch, err as Error);
      return this.refuse(batch, `audit log write failed: ${(err as Error).message}`);
    }
    this.unlocked();
    this.seq = seq;
    this.lastHash = prev;
    this.frontier = frontier;
    if (cp) {
      this.checkpointed(cp);
      this.checkpointWanted = false;
    }
    if (rows.length === 0) return;
    this.lastWriteFailed = false;
    this.metrics.commitSeconds.observe((performance.now() - t0) / 1000);
    this.metrics.batch.observe(batch.length);
    this.metrics.lastSeq.set(seq);
    for (let i = 0; i < batch.length; i++) {
      this.metrics.events.inc({ type: out[i]!.core.type });
      batch[i]!.resolve({ seq: out[i]!.core.seq, hash: out[i]!.hash });
    }
    const log = this.opts.log;
    if (log?.debug && log.isLevelEnabled?.('debug')) for (let i = 0; i < batch.length; i++) log.debug({ audit: { seq: out[i]!.core.seq, ...batch[i]!.e } }, 'audit');
    if (this.telemetry) {
      this.telemetry.write(
        out.map(({ core, hash, payload }) => {
          const { v: _v, ...rest } = core;
          return { ...rest, hash, payload: this.telemetry!.opts.includePayload ? (JSON.parse(payload) as Record<string, unknown>) : null };
        }),
      );
    }
  }

  private makeCheckpoint(treeSize: number, lastHash: string, frontier: CompactRange): Checkpoint | undefined {
    if (!this.key) return undefined;
    const segment = this.segmentNo > 1 ? { segment: this.segmentNo } : {};
    return signCheckpoint({ treeSize, time: new Date(this.now()).toISOString(), root: frontier.root().toString('hex'), lastHash, keyId: this.key.keyId, publicKey: spkiBase64(this.key.publicKey), ...segment }, this.key.privateKey);
  }

  private checkpointed(cp: Checkpoint): void {
    this.lastCheckpoint = { treeSize: cp.treeSize, time: cp.time };
    this.metrics.checkpoints.inc();
  }

  /**
   * Write a signed checkpoint now if events were committed since the last one. While events are
   * queued or the store is locked, the checkpoint rides on the next write instead (undefined now).
   */
  checkpointNow(): Checkpoint | undefined {
    if (!this.db || !this.stmts || this.refused || this.seq <= (this.lastCheckpoint?.treeSize ?? this.anchor)) return undefined;
    if (this.retryTimer || this.queue.length > 0) {
      this.checkpointWanted = true;
      return undefined;
    }
    const cp = this.makeCheckpoint(this.seq, this.lastHash, this.frontier);
    if (!cp) return undefined;
    try {
      this.stmts.checkpoint.run(cp.treeSize, cp.time, cp.root, cp.lastHash, JSON.stringify(this.frontier.toHex()), cp.keyId, cp.publicKey, cp.signature);
    } catch (e) {
      if (isBusy(e)) {
        this.checkpointWanted = true;
        this.waitForLock([], e as Error);
        return undefined;
      }
      this.opts.log?.error({ err: (e as Error).message }, 'audit checkpoint could not be written');
      return undefined;
    }
    this.checkpointed(cp);
    return cp;
  }

  /** Retention (see prune.ts); records an `audit.prune` event. */
  prune(now = this.now()): Promise<{ anchor: number; pruned: number }> {
    return this.pruner.prune(now);
  }

  /** GDPR erase: destroy payloads (and their salts) of matching events; the chain keeps verifying. */
  async erasePayloads(where: { subject?: string; agentId?: string; runId?: string }): Promise<number> {
    const db = this.db;
    if (!db) throw new ClawguardError('audit_unavailable', this.openError ?? 'audit store unavailable');
    const cond: string[] = [];
    const args: string[] = [];
    if (where.subject !== undefined) (cond.push('subject = ?'), args.push(where.subject));
    if (where.agentId !== undefined) (cond.push('agent_id = ?'), args.push(where.agentId));
    if (where.runId !== undefined) (cond.push('run_id = ?'), args.push(where.runId));
    if (!cond.length) throw new ClawguardError('bad_request', 'erase: name a subject, agentId or runId');
    const n = db.prepare(`UPDATE audit_events SET payload = NULL, payload_salt = NULL WHERE payload IS NOT NULL AND ${cond.join(' AND ')}`).run(...args).changes;
    await this.record({ type: 'audit.erase', action: 'audit.erase', decision: 'allow', ...(where.subject ? { subject: where.subject } : {}), payload: { where, erasedPayloads: n } });
    return n;
  }

  /** Seq of the first committed event of `type` for a run, if there is one (recovery asks before writing an ending again). */
  firstSeqOf(runId: string, type: string): number | undefined {
    const row = this.db?.prepare('SELECT seq FROM audit_events WHERE run_id = ? AND type = ? ORDER BY seq LIMIT 1').get(runId, type) as { seq: number } | undefined;
    return row?.seq;
  }

  /** The database handle (read access for the operator API). */
  get database(): SqliteDb | undefined {
    return this.db;
  }

  keyHistory(): KeyStatement[] {
    return this.keys;
  }

  /** The committed head, signed now (not stored: the witnesses hold it); undefined without a key. */
  signHead(): { checkpoint: Checkpoint; pieces: string[] } | undefined {
    const cp = this.makeCheckpoint(this.seq, this.lastHash, this.frontier);
    return cp ? { checkpoint: cp, pieces: this.frontier.toHex() } : undefined;
  }

  checkpointBetween(from: number, max: number): Checkpoint | undefined {
    const r = this.db?.prepare('SELECT * FROM audit_checkpoints WHERE tree_size > ? AND tree_size <= ? ORDER BY tree_size DESC LIMIT 1').get(from, max) as CheckpointRow | undefined;
    return r ? checkpointFromRow(r, this.segmentNo) : undefined;
  }

  /** The database file (verification reads it on its own connections). */
  get file(): string {
    return this.opts.file ?? defaultDbFile(this.opts.stateDir);
  }

  /** The configured witnesses (for verification against them). */
  get witnesses(): WitnessTarget[] {
    return this.trust.targets;
  }

  /** The chain as the trust layer sees it. */
  private host(): ChainHost {
    return {
      db: () => this.db,
      stateDir: this.opts.stateDir,
      file: this.file,
      state: () => ({ openError: this.openError, openBadSeq: this.openBadSeq, keyError: this.keyError, keyPreexisted: this.keyPreexisted, keys: this.keys, key: this.key, lastSeq: this.seq, anchor: this.anchor, segment: this.segmentNo, lastCheckpoint: this.lastCheckpoint }),
      useKey: (key, keys) => Object.assign(this, { key, keys, keyError: undefined, keyPreexisted: false }),
      restart: (segment) => {
        Object.assign(this, { segmentNo: segment, seq: 0, lastHash: GENESIS, frontier: new CompactRange(), anchor: 0, lastCheckpoint: undefined, openError: undefined, openBadSeq: undefined });
        this.metrics.lastSeq.set(0);
      },
      refuse: (reason) => (this.refused = reason),
      append: (e) => this.append(e),
      checkpointNow: () => this.checkpointNow(),
      size: () => this.seq,
      segment: () => this.segmentNo,
      keyHistory: () => this.keys,
      signHead: () => this.signHead(),
      checkpointBetween: (from, max) => this.checkpointBetween(from, max),
    };
  }

  /**
   * Before the gateway listens: refuse a log that is broken, re-keyed, or shorter than or
   * inconsistent with a witness (audit_broken, naming the first bad seq), unless `newSegment`
   * (see trust.ts). Then publishing to the witnesses starts.
   */
  checkAtStart(o: { newSegment?: boolean } = {}): Promise<{ warnings: string[]; newSegment?: number }> {
    return this.trust.checkAtStart(o);
  }

  /** Publish the current head to every witness and wait (bounded); for shutdown, rotate-key and tests. */
  publishNow(timeoutMs = 5000): Promise<void> {
    return this.trust.publishNow(timeoutMs);
  }

  /** `clawguard audit rotate-key` (no gateway running; see trust.ts). */
  rotateKey(o: { keyLost: boolean }): Promise<{ previousKeyId: string | null; keyId: string; endorsed: boolean; seq: number }> {
    return this.trust.rotateKey(o);
  }

  status(): Record<string, unknown> {
    const failing = this.lastWriteFailed;
    const t = this.trust.status();
    const ok = !this.openError && !failing && !this.closed && !this.locked && !this.refused && t.ok;
    const reason = this.refused ?? this.openError ?? (this.locked ? `${this.locked.message} since ${this.locked.since}; ${this.queue.length} event(s) waiting, each refused after ${this.opts.lockWaitMs ?? 1000} ms` : undefined) ??
      (failing ? `last write failed: ${this.lastFailure!.message}` : this.closed ? 'closed' : t.refused ? `the witness at ${t.refused.name} refused the log: ${t.refused.error}` : undefined);
    const pruning = this.pruner.warning();
    const warnings = [...t.warnings, ...(pruning ? [pruning] : [])];
    return {
      ok,
      ...(reason ? { reason } : {}),
      lastSeq: this.seq,
      segment: this.segmentNo,
      anchor: this.anchor,
      lastCheckpoint: this.lastCheckpoint ?? null,
      pending: this.queue.length,
      locked: this.locked ?? null,
      writeFailures: this.failures,
      lastFailure: this.lastFailure ?? null,
      signing: this.key ? { ok: true, keyId: this.key.keyId } : { ok: false, reason: this.keyError },
      checkpointEvery: this.every,
      checkpointSeconds: this.opts.checkpointSeconds ?? 60,
      retentionDays: this.opts.retentionDays ?? 90,
      telemetry: this.telemetry ? this.telemetry.status() : null,
      witness: t.witness,
      warnings,
    };
  }

  /** Commit what is queued (waiting a bounded time for a lock), write a final checkpoint, publish it, stop. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    const until = performance.now() + (this.opts.lockWaitMs ?? 1000);
    while ((this.retryTimer || this.queue.length) && performance.now() < until) {
      if (!this.retryTimer) this.flush();
      else await new Promise((r) => setTimeout(r, 5));
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.flush();
    this.checkpointNow();
    this.refuse(this.queue.splice(0), 'the audit log closed while the store was locked');
    await this.trust.close({ publish: !this.refused });
    this.pruner.close();
    this.closed = true;
    await this.telemetry?.close();
    try {
      this.db?.close();
    } catch {
      /* already closed */
    }
  }
}
