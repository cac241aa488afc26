/**
 * The audit log writer. `record()` resolves only once the event is durable: events queue up and
 * are written together in one SQLite transaction (WAL, synchronous=FULL: one fsync per group),
 * each chained to the previous by hash and appended to the Merkle tree; every N events or T
 * seconds a signed checkpoint is written. If the write fails, every event of the group is
 * rejected with `audit_unavailable` (the caller then denies the action) and the chain state is
 * left as it was, so a later write continues it.
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { ClawguardError } from '../errors/index.js';
import type { AuditEventInput, AuditSink } from '../pipeline/index.js';
import { defaultDbFile, openSqlite, type SqliteDb } from '../store/index.js';
import { canonicalCore, canonicalJson, type EventCore } from './canonical.js';
import { type Checkpoint, signCheckpoint } from './checkpoint.js';
import { CompactRange, eventHash, GENESIS, leafOf, sha256Hex } from './hash.js';
import { loadOrCreateSigningKey, type SigningKey, spkiBase64 } from './keys.js';
import { AuditMetrics } from './metrics.js';
import { anchorOf, type CheckpointRow, migrateAudit } from './tables.js';
import { markAudited } from './request-scope.js';
import { TelemetryStream, type TelemetryOptions } from './telemetry.js';
import type { AuditReceipt } from './types.js';

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
  /** How long a write waits for a lock held by someone else before failing (default 1000 ms). */
  busyTimeoutMs?: number;
  /** Larger payloads are stored as a digest and a head (default 64 KiB). */
  maxPayloadBytes?: number;
  /** How often retention pruning runs (default hourly; 0 = only when called). */
  pruneEveryMs?: number;
}

interface Pending {
  e: AuditEventInput;
  time: string;
  resolve: (r: AuditReceipt) => void;
  reject: (e: Error) => void;
}

type Row = [number, string, string, string | null, string | null, string | null, string | null, string | null, string | null, string | null, string | null, string, string, string, string, string];

/**
 * Text as SQLite will store it: a lone surrogate cannot be kept in UTF-8 and would come back as
 * U+FFFD, so it is replaced before hashing; otherwise such an event could never verify.
 */
const wellFormed = (s: string): string => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
const str = (v: unknown): string | null => (v === undefined || v === null ? null : wellFormed(String(v)));

export class AuditLog implements AuditSink {
  private db: SqliteDb | undefined;
  private key: SigningKey | undefined;
  private openError: string | undefined;
  private keyError: string | undefined;
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
    try {
      log.db = openSqlite({ file: opts.file ?? defaultDbFile(opts.stateDir), busyTimeoutMs: opts.busyTimeoutMs ?? 1000 });
      migrateAudit(log.db);
      log.prepare(log.db);
      log.recover(log.db);
    } catch (e) {
      log.openError = `audit store unavailable: ${(e as Error).message}`;
      opts.log?.error({ err: (e as Error).message }, 'audit log could not be opened; every action will be denied');
    }
    try {
      log.key = loadOrCreateSigningKey(opts.stateDir);
    } catch (e) {
      log.keyError = `checkpoint signing key unavailable: ${(e as Error).message}`;
      opts.log?.error({ err: (e as Error).message }, 'audit checkpoints cannot be signed');
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
    } else if (this.anchor > 0) throw new Error(`the audit log was pruned up to seq ${this.anchor} but its anchor checkpoint is missing`);
    for (const r of db.prepare('SELECT seq, hash FROM audit_events WHERE seq > ? ORDER BY seq').iterate(from) as IterableIterator<{ seq: number; hash: string }>) {
      if (r.seq !== this.seq + 1) throw new Error(`audit events are not contiguous after seq ${this.seq} (found ${r.seq}); run "clawguard audit verify"`);
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
    return new Promise<AuditReceipt>((resolve, reject) => {
      this.queue.push({ e, time: new Date(this.now()).toISOString(), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private payloadText(payload: unknown): string {
    const text = canonicalJson(payload ?? {});
    const max = this.opts.maxPayloadBytes ?? 64 * 1024;
    if (text.length <= max) return text;
    return canonicalJson({ truncated: true, bytes: Buffer.byteLength(text), sha256: sha256Hex(text), head: text.slice(0, 1024) });
  }

  /** Write everything queued as one transaction (group commit). */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const fail = (message: string) => {
      const err = new ClawguardError('audit_unavailable', message);
      this.failures += batch.length;
      this.metrics.failures.inc(batch.length);
      this.lastFailure = { at: new Date().toISOString(), message };
      this.lastWriteFailed = true;
      this.opts.log?.error({ events: batch.length, err: message }, 'audit write failed; the actions are denied');
      for (const p of batch) p.reject(err);
    };
    if (!this.db || !this.writeBatch || this.openError) return fail(this.openError ?? 'audit store unavailable');
    const t0 = performance.now();
    let seq = this.seq;
    let prev = this.lastHash;
    const frontier = this.frontier.clone();
    const rows: Row[] = [];
    const out: Array<{ core: EventCore; hash: string; payload: string }> = [];
    const salts = randomBytes(16 * batch.length).toString('hex');
    try {
      for (let i = 0; i < batch.length; i++) {
        const { e, time } = batch[i]!;
        const payload = this.payloadText(e.payload);
        const salt = salts.slice(i * 32, i * 32 + 32);
        seq++;
        const core: EventCore = { v: 1, seq, time, type: wellFormed(String(e.type || 'unknown')), payloadHash: sha256Hex(salt + payload), prev };
        const policies = e.policies?.map((p) => wellFormed(String(p)));
        const row: Row = [seq, time, core.type, str(e.agentId), str(e.runId), str(e.subject), str(e.action), str(e.resource), str(e.decision), str(e.tier), policies ? JSON.stringify(policies) : null, core.payloadHash, prev, '', salt, payload];
        if (row[3] !== null) core.agentId = row[3];
        if (row[4] !== null) core.runId = row[4];
        if (row[5] !== null) core.subject = row[5];
        if (row[6] !== null) core.action = row[6];
        if (row[7] !== null) core.resource = row[7];
        if (row[8] !== null) core.decision = row[8] as EventCore['decision'];
        if (row[9] !== null) core.tier = row[9] as EventCore['tier'];
        if (policies) core.policies = policies;
        const hash = eventHash(canonicalCore(core));
        row[13] = hash;
        frontier.append(Buffer.from(hash, 'hex'));
        rows.push(row);
        out.push({ core, hash, payload });
        prev = hash;
      }
    } catch (err) {
      return fail(`audit event could not be encoded: ${(err as Error).message}`);
    }
    const cp = seq - (this.lastCheckpoint?.treeSize ?? this.anchor) >= this.every ? this.makeCheckpoint(seq, prev, frontier) : undefined;
    try {
      this.writeBatch(rows, cp, cp ? frontier.toHex() : undefined);
    } catch (err) {
      return fail(`audit log write failed: ${(err as Error).message}`);
    }
    this.seq = seq;
    this.lastHash = prev;
    this.frontier = frontier;
    if (cp) this.checkpointed(cp);
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
    return signCheckpoint({ treeSize, time: new Date(this.now()).toISOString(), root: frontier.root().toString('hex'), lastHash, keyId: this.key.keyId, publicKey: spkiBase64(this.key.publicKey) }, this.key.privateKey);
  }

  private checkpointed(cp: Checkpoint): void {
    this.lastCheckpoint = { treeSize: cp.treeSize, time: cp.time };
    this.metrics.checkpoints.inc();
  }

  /** Write a signed checkpoint now if events were committed since the last one. */
  checkpointNow(): Checkpoint | undefined {
    if (!this.db || !this.stmts || this.seq <= (this.lastCheckpoint?.treeSize ?? this.anchor)) return undefined;
    const cp = this.makeCheckpoint(this.seq, this.lastHash, this.frontier);
    if (!cp) return undefined;
    try {
      this.stmts.checkpoint.run(cp.treeSize, cp.time, cp.root, cp.lastHash, JSON.stringify(this.frontier.toHex()), cp.keyId, cp.publicKey, cp.signature);
    } catch (e) {
      this.opts.log?.error({ err: (e as Error).message }, 'audit checkpoint could not be written');
      return undefined;
    }
    this.checkpointed(cp);
    return cp;
  }

  /**
   * Retention: drop events older than retentionDays, but only up to a checkpoint, which stays as
   * the anchor verification starts from. Records an `audit.prune` event.
   */
  async prune(now = this.now()): Promise<{ anchor: number; pruned: number }> {
    const db = this.db;
    if (!db || this.closed) return { anchor: this.anchor, pruned: 0 };
    const cutoff = new Date(now - (this.opts.retentionDays ?? 90) * 86_400_000).toISOString();
    const cp = db.prepare('SELECT tree_size FROM audit_checkpoints WHERE tree_size > ? AND time < ? ORDER BY tree_size DESC LIMIT 1').get(this.anchor, cutoff) as { tree_size: number } | undefined;
    if (!cp) return { anchor: this.anchor, pruned: 0 };
    const anchor = cp.tree_size;
    const previous = this.anchor;
    // The prune is recorded in the chain first: verify accepts an anchor only if an audit.prune event after it names it.
    await this.append({ type: 'audit.prune', action: 'audit.prune', resource: `seq:${anchor}`, decision: 'allow', payload: { previousAnchor: previous, anchor, cutoff, retentionDays: this.opts.retentionDays ?? 90 } });
    let pruned = 0;
    db.transaction(() => {
      db.prepare("UPDATE audit_meta SET value = ? WHERE key = 'anchor'").run(String(anchor));
      pruned = db.prepare('DELETE FROM audit_events WHERE seq <= ?').run(anchor).changes;
      db.prepare('DELETE FROM audit_checkpoints WHERE tree_size < ?').run(anchor);
    })();
    this.anchor = anchor;
    this.opts.log?.info({ anchor, pruned, cutoff }, 'audit events past retention pruned');
    return { anchor, pruned };
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

  /** The database handle (read access for the operator API). */
  get database(): SqliteDb | undefined {
    return this.db;
  }

  status(): Record<string, unknown> {
    const failing = this.lastWriteFailed;
    const ok = !this.openError && !failing && !this.closed;
    return {
      ok,
      ...(this.openError ? { reason: this.openError } : failing ? { reason: `last write failed: ${this.lastFailure!.message}` } : this.closed ? { reason: 'closed' } : {}),
      lastSeq: this.seq,
      anchor: this.anchor,
      lastCheckpoint: this.lastCheckpoint ?? null,
      pending: this.queue.length,
      writeFailures: this.failures,
      lastFailure: this.lastFailure ?? null,
      signing: this.key ? { ok: true, keyId: this.key.keyId } : { ok: false, reason: this.keyError },
      checkpointEvery: this.every,
      checkpointSeconds: this.opts.checkpointSeconds ?? 60,
      retentionDays: this.opts.retentionDays ?? 90,
      telemetry: this.telemetry ? this.telemetry.status() : null,
    };
  }

  /** Commit what is queued, write a final checkpoint, stop. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    this.flush();
    this.checkpointNow();
    this.closed = true;
    await this.telemetry?.close();
    try {
      this.db?.close();
    } catch {
      /* already closed */
    }
  }
}
