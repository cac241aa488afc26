/**
 * What makes the log trustworthy beyond its own file: its witnesses and its keys. The start check
 * (refuse, or continue on a new segment that records the break), key rotation, and publishing the
 * key history and signed heads to the witnesses. The chain itself (appends, checkpoints) stays in
 * log.ts; this module reaches it through the narrow `ChainHost` the log hands over.
 */
import { resolve, sep } from 'node:path';
import { ClawguardError } from '../errors/index.js';
import type { AuditEventInput } from '../pipeline/index.js';
import type { SqliteDb } from '../store/index.js';
import type { Checkpoint } from './checkpoint.js';
import { appendKeyStatement, type KeyStatement, makeKeyStatement } from './key-history.js';
import { commitStagedKey, generateSigningKey, type SigningKey, stageSigningKey } from './keys.js';
import type { AuditMetrics } from './metrics.js';
import { Prover } from './prover.js';
import { type HeadSource, type PublisherLog, WitnessPublisher, type WitnessStatus } from './publisher.js';
import { archiveChain } from './segment.js';
import { describeProblems, findStartProblems, type Problem, readWitnesses, type StartContext, type WitnessRead } from './start-check.js';
import type { AuditReceipt } from './types.js';
import type { WitnessTarget } from './witness-targets.js';

/** What the trust layer may see and do of the chain. */
export interface ChainHost extends HeadSource {
  db(): SqliteDb | undefined;
  readonly stateDir: string;
  readonly file: string;
  state(): Omit<StartContext, 'db' | 'keyId' | 'lastSeq'> & { lastSeq: number; key: SigningKey | undefined; lastCheckpoint: { treeSize: number; time: string } | undefined };
  /** The key (and history) checkpoints are signed with from now on. */
  useKey(key: SigningKey, keys: KeyStatement[]): void;
  /** Empty chain state for a new segment (its tables were just recreated). */
  restart(segment: number): void;
  /** Refuse every further write: the start check found the log broken. */
  refuse(reason: string): void;
  append(e: AuditEventInput): Promise<AuditReceipt>;
  checkpointNow(): Checkpoint | undefined;
}

export const NO_WITNESS_WARNING = 'no witness is configured (audit.witness): truncation or rewriting of the audit log by someone with access to the state dir cannot be detected';

export class LogTrust {
  private publisher: WitnessPublisher | undefined;
  private prover: Prover | undefined;
  private startErrors = new Map<string, string>();
  private placement: string[] = [];

  constructor(
    private readonly chain: ChainHost,
    readonly targets: WitnessTarget[],
    private readonly o: { everyMs: number; log?: PublisherLog; metrics: AuditMetrics },
  ) {}

  private context(): StartContext {
    const s = this.chain.state();
    return { ...s, db: this.chain.db(), keyId: s.key?.keyId };
  }

  /**
   * Before the gateway listens: refuse a log that is broken, signed by a key that is not its own,
   * or shorter than / inconsistent with what a witness holds (ClawguardError audit_broken, naming
   * the first bad seq), unless `newSegment`, which continues on a new segment recording the break.
   * Then publishing to the witnesses starts.
   */
  async checkAtStart(o: { newSegment?: boolean }): Promise<{ warnings: string[]; newSegment?: number }> {
    const reads = await readWitnesses(this.targets);
    const problems = findStartProblems(this.context(), reads);
    let newSegment: number | undefined;
    if (problems.length) {
      const message = describeProblems(problems);
      if (!o.newSegment) {
        this.chain.refuse(`the audit log was refused at start: ${message.split('\n')[1]?.replace(/^\s*- /, '') ?? message}`);
        throw new ClawguardError('audit_broken', message);
      }
      newSegment = await this.beginSegment(problems, reads);
    } else {
      const s = this.chain.state();
      const db = this.chain.db();
      // a log from before key histories, or one opened without a start check: its key is recorded now
      if (s.keys.length === 0 && s.key && db) {
        const genesis = makeKeyStatement(s.key, { segment: s.segment, fromSize: 0, reason: 'genesis' });
        appendKeyStatement(db, genesis);
        this.chain.useKey(s.key, [genesis]);
      }
    }
    const warnings: string[] = [];
    if (!this.targets.some((t) => t.readable)) warnings.push(NO_WITNESS_WARNING);
    const home = resolve(this.chain.stateDir) + sep;
    for (const t of this.targets) {
      if (t.spec.kind === 'dir' && (resolve(t.spec.dir) + sep).startsWith(home)) this.placement.push(`the witness at ${t.name} is inside the state dir: whoever can rewrite the log can rewrite it too; put it on another path or mount`);
    }
    for (const r of reads) {
      if (!('error' in r)) continue;
      this.startErrors.set(r.t.name, r.error);
      warnings.push(`the witness at ${r.t.name} is unreachable (${r.error}): consistency with it is checked when it is reachable again`);
    }
    warnings.push(...this.placement);
    for (const w of warnings) this.o.log?.warn({}, w);
    this.startWitnessing(newSegment === undefined ? reads : []);
    return { warnings, ...(newSegment !== undefined ? { newSegment } : {}) };
  }

  /** Start publishing to the witnesses (what was read at start spares a second read). */
  startWitnessing(reads: WitnessRead[] = []): void {
    if (this.publisher || this.targets.length === 0 || !this.chain.db()) return;
    this.prover = new Prover(this.chain.file);
    this.publisher = new WitnessPublisher(this.chain, this.targets, { everyMs: this.o.everyMs, prover: this.prover, metrics: this.o.metrics, ...(this.o.log ? { log: this.o.log } : {}) });
    for (const r of reads) if ('state' in r) this.publisher.seed(r.t, r.state);
    this.publisher.start();
  }

  /** Publish the current head to every witness and wait, at most `timeoutMs`. */
  async publishNow(timeoutMs: number): Promise<void> {
    this.startWitnessing();
    await this.publisher?.flush(timeoutMs);
  }

  /** Pruning may not pass the smallest head a readable witness holds (its consistency proofs need the events after it). */
  pruneLimit(): number {
    return this.publisher?.minWitnessedSize() ?? (this.targets.some((t) => t.readable) ? 0 : Number.MAX_SAFE_INTEGER);
  }

  /** Archive the broken chain and open a new segment whose first event records what was found. */
  private async beginSegment(problems: Problem[], reads: WitnessRead[]): Promise<number> {
    const db = this.chain.db();
    const s = this.chain.state();
    if (!db) throw new ClawguardError('audit_unavailable', s.openError ?? 'audit store unavailable');
    const heads = reads.flatMap((r) => ('state' in r && r.state.latest ? [{ witness: r.t.name, treeSize: r.state.latest.treeSize, segment: r.state.latest.segment ?? 1, root: r.state.latest.root, keyId: r.state.latest.keyId }] : []));
    const next = Math.max(s.segment, ...heads.map((h) => h.segment)) + 1;
    // the new segment's key follows the history the witnesses pinned (they accept nothing else)
    const pinned = reads.flatMap((r) => ('state' in r ? [r.state.keys] : [])).sort((a, b) => b.length - a.length)[0] ?? [];
    const history = pinned.length ? pinned : s.keys;
    const previous = history.at(-1);
    const key = s.key ?? generateSigningKey();
    const statement = makeKeyStatement(key, { ...(previous ? { previous: { keyId: previous.keyId, ...(previous.keyId === key.keyId ? { key } : {}) } } : {}), segment: next, fromSize: 0, reason: 'segment' });
    const before = { lastSeq: s.lastSeq, anchor: s.anchor, lastCheckpoint: s.lastCheckpoint ?? null, segment: s.segment };
    if (!s.key) stageSigningKey(this.chain.stateDir, key);
    const archived = archiveChain(db, s.segment, next);
    db.transaction(() => {
      for (const k of history) appendKeyStatement(db, k);
      appendKeyStatement(db, statement);
    })();
    if (!s.key) commitStagedKey(this.chain.stateDir);
    this.chain.restart(next);
    this.chain.useKey(key, [...history, statement]);
    this.o.log?.error({ segment: next, problems }, 'the audit log continues on a new segment after a break (--audit-new-segment)');
    await this.chain.append({
      type: 'audit.segment.start',
      action: 'audit.segment.start',
      resource: `segment:${next}`,
      decision: 'allow',
      payload: { segment: next, previousSegment: s.segment, found: problems, before, witnesses: heads, archivedTables: archived, keyId: key.keyId, newKey: !s.key },
    });
    this.chain.checkpointNow();
    return next;
  }

  /**
   * Rotate the signing key (no gateway running): only on a log consistent with its witnesses;
   * recorded as `audit.key.rotate`, signed from then on by the new key, endorsed by the previous
   * one when it is at hand (`keyLost` otherwise), then published to the witnesses.
   */
  async rotateKey(o: { keyLost: boolean }): Promise<{ previousKeyId: string | null; keyId: string; endorsed: boolean; seq: number }> {
    const db = this.chain.db();
    const s = this.chain.state();
    const problems = findStartProblems({ ...this.context(), keyError: undefined }, await readWitnesses(this.targets));
    if (!db || problems.length) throw new ClawguardError('audit_broken', `${describeProblems(problems.length ? problems : [{ message: s.openError ?? 'audit store unavailable' }])}\na broken log is continued with "clawguard start --audit-new-segment", not by a new key`);
    const previous = s.keys.at(-1);
    const old = s.key && previous && s.key.keyId === previous.keyId ? s.key : undefined;
    if (!old && !o.keyLost) throw new ClawguardError('bad_request', `${s.keyError ?? "the signing key is not the log's key"}; to rotate without the previous key's endorsement (recorded as such), pass --key-lost`);
    const key = generateSigningKey();
    const fromSize = s.lastSeq + 1;
    const statement = makeKeyStatement(key, { ...(previous ? { previous: { keyId: previous.keyId, ...(old ? { key: old } : {}) } } : {}), segment: s.segment, fromSize, reason: old ? 'rotate' : 'key-lost' });
    stageSigningKey(this.chain.stateDir, key);
    appendKeyStatement(db, statement);
    commitStagedKey(this.chain.stateDir);
    this.chain.useKey(key, [...s.keys, statement]);
    const r = await this.chain.append({ type: 'audit.key.rotate', action: 'audit.key.rotate', resource: `key:${key.keyId}`, decision: 'allow', payload: { previousKeyId: previous?.keyId ?? null, keyId: key.keyId, endorsed: !!old, reason: statement.reason, fromSize, statement } });
    this.chain.checkpointNow();
    return { previousKeyId: previous?.keyId ?? null, keyId: key.keyId, endorsed: !!old, seq: r.seq };
  }

  status(): { ok: boolean; refused: WitnessStatus | undefined; warnings: string[]; witness: Record<string, unknown> } {
    const w = this.publisher?.status();
    const readable = this.targets.filter((t) => t.readable).length;
    const warnings = readable ? [...this.placement] : [NO_WITNESS_WARNING];
    for (const x of w?.witnesses ?? []) {
      const error = x.health === 'failing' ? x.error : x.health === 'pending' ? this.startErrors.get(x.name) : undefined;
      if (error) warnings.push(`the witness at ${x.name} is unreachable (${error}); events after seq ${x.treeSize ?? 0} are not witnessed there`);
    }
    const refused = w?.witnesses.find((x) => x.health === 'refused');
    return {
      ok: !refused,
      refused,
      warnings,
      witness: {
        configured: this.targets.length,
        detectsTruncation: readable > 0,
        ok: w ? w.ok : readable > 0,
        lastWitnessedSize: w?.lastWitnessedSize ?? null,
        unwitnessedEvents: w?.unwitnessedEvents ?? null,
        publishEverySeconds: this.o.everyMs / 1000,
        witnesses: w?.witnesses ?? this.targets.map((t) => ({ name: t.name, kind: t.spec.kind, detects: t.readable, health: 'pending' })),
      },
    };
  }

  /** A last publication (bounded), then stop. */
  async close(o: { publish: boolean }): Promise<void> {
    if (o.publish) await this.publisher?.flush(2000).catch(() => undefined);
    await this.publisher?.close();
    await this.prover?.close();
    await Promise.allSettled(this.targets.map((t) => t.close()));
  }
}
