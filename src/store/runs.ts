/** Run records: the only thing that outlives a thread-bound instance. */
import type { SqliteDb } from './sqlite.js';
import { migrate } from './sqlite.js';

export type RunState = 'queued' | 'running' | 'succeeded' | 'failed' | 'timed_out' | 'killed' | 'rejected';
export const TERMINAL_STATES: readonly RunState[] = ['succeeded', 'failed', 'timed_out', 'killed', 'rejected'];

export interface RunRecord {
  runId: string;
  profile: string;
  state: RunState;
  isolation: string;
  sessionKey?: string;
  input: unknown;
  output?: unknown;
  outputTruncated: boolean;
  error?: { code: string; message: string };
  reason?: string;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  deterministic: boolean;
  /** The agent's ctx.log lines went past the run's budget and the rest were dropped. */
  logsTruncated: boolean;
  /** Seq of the run's run.end audit event; undefined while it is not yet written. */
  endSeq?: number;
}

/** Everything nondeterministic a run consumed, for replay. */
export interface RunRecording {
  seed: number;
  clock: number[];
  /** The agent read the clock more often than the record keeps: replay cannot be exact. */
  clockOverflow?: boolean;
  calls: Array<{ kind: 'tool' | 'model'; name: string; args: unknown; result: unknown }>;
}

const MIGRATIONS = [
  `CREATE TABLE runs (
     run_id TEXT PRIMARY KEY,
     profile TEXT NOT NULL,
     state TEXT NOT NULL,
     isolation TEXT NOT NULL,
     session_key TEXT,
     input TEXT,
     output TEXT,
     output_truncated INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     reason TEXT,
     created_at TEXT NOT NULL,
     started_at TEXT,
     ended_at TEXT,
     duration_ms REAL,
     deterministic INTEGER NOT NULL DEFAULT 0,
     recording TEXT
   );
   CREATE INDEX runs_profile_state ON runs(profile, state);
   CREATE INDEX runs_created ON runs(created_at);`,
  // end_seq: the run.end event's seq, so an ending stored but not yet in the audit log is found and
  // written on the next start. Runs that ended before this column existed are marked 0 (not tracked).
  `ALTER TABLE runs ADD COLUMN end_seq INTEGER;
   ALTER TABLE runs ADD COLUMN logs_truncated INTEGER NOT NULL DEFAULT 0;
   UPDATE runs SET end_seq = 0 WHERE state NOT IN ('queued', 'running');
   CREATE INDEX runs_end_unrecorded ON runs(end_seq) WHERE end_seq IS NULL;`,
];

interface Row {
  run_id: string; profile: string; state: RunState; isolation: string; session_key: string | null; input: string | null; output: string | null;
  output_truncated: number; error: string | null; reason: string | null; created_at: string; started_at: string | null; ended_at: string | null;
  duration_ms: number | null; deterministic: number; end_seq: number | null; logs_truncated: number;
}

function fromRow(r: Row): RunRecord {
  return {
    runId: r.run_id,
    profile: r.profile,
    state: r.state,
    isolation: r.isolation,
    ...(r.session_key ? { sessionKey: r.session_key } : {}),
    input: r.input === null ? null : JSON.parse(r.input),
    ...(r.output !== null ? { output: JSON.parse(r.output) } : {}),
    outputTruncated: r.output_truncated === 1,
    ...(r.error ? { error: JSON.parse(r.error) } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    createdAt: r.created_at,
    ...(r.started_at ? { startedAt: r.started_at } : {}),
    ...(r.ended_at ? { endedAt: r.ended_at } : {}),
    ...(r.duration_ms !== null ? { durationMs: r.duration_ms } : {}),
    deterministic: r.deterministic === 1,
    logsTruncated: r.logs_truncated === 1,
    ...(r.end_seq !== null ? { endSeq: r.end_seq } : {}),
  };
}

const j = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

export class RunRepository {
  private readonly insertStmt;
  private readonly getStmt;
  constructor(private readonly db: SqliteDb) {
    migrate(db, 'runs', MIGRATIONS);
    this.insertStmt = db.prepare(
      `INSERT INTO runs (run_id, profile, state, isolation, session_key, input, created_at, deterministic)
       VALUES (@runId, @profile, @state, @isolation, @sessionKey, @input, @createdAt, @deterministic)`,
    );
    this.getStmt = db.prepare('SELECT * FROM runs WHERE run_id = ?');
  }

  insert(r: Pick<RunRecord, 'runId' | 'profile' | 'state' | 'isolation' | 'input' | 'createdAt' | 'deterministic'> & { sessionKey?: string }): void {
    this.insertStmt.run({ ...r, sessionKey: r.sessionKey ?? null, input: j(r.input), deterministic: r.deterministic ? 1 : 0 });
  }

  update(runId: string, patch: Partial<Omit<RunRecord, 'runId' | 'profile' | 'createdAt'>>): void {
    const cols: string[] = [];
    const vals: Record<string, unknown> = { runId };
    const map: Record<string, [string, (v: unknown) => unknown]> = {
      state: ['state', (v) => v],
      output: ['output', j],
      outputTruncated: ['output_truncated', (v) => (v ? 1 : 0)],
      error: ['error', j],
      reason: ['reason', (v) => v ?? null],
      startedAt: ['started_at', (v) => v],
      endedAt: ['ended_at', (v) => v],
      durationMs: ['duration_ms', (v) => v],
      logsTruncated: ['logs_truncated', (v) => (v ? 1 : 0)],
    };
    for (const [k, v] of Object.entries(patch)) {
      const m = map[k];
      if (!m) continue;
      cols.push(`${m[0]} = @${k}`);
      vals[k] = m[1](v);
    }
    if (cols.length === 0) return;
    this.db.prepare(`UPDATE runs SET ${cols.join(', ')} WHERE run_id = @runId`).run(vals);
  }

  get(runId: string): RunRecord | undefined {
    const r = this.getStmt.get(runId) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  list(filter: { profile?: string; state?: string; limit?: number } = {}): RunRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.profile) { where.push('profile = ?'); args.push(filter.profile); }
    if (filter.state) { where.push('state = ?'); args.push(filter.state); }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, run_id DESC LIMIT ?`;
    args.push(Math.min(Math.max(filter.limit ?? 100, 1), 1000));
    return (this.db.prepare(sql).all(...args) as Row[]).map(fromRow);
  }

  saveRecording(runId: string, rec: RunRecording): void {
    this.db.prepare('UPDATE runs SET recording = ? WHERE run_id = ?').run(JSON.stringify(rec), runId);
  }

  getRecording(runId: string): RunRecording | undefined {
    const r = this.db.prepare('SELECT recording FROM runs WHERE run_id = ?').get(runId) as { recording: string | null } | undefined;
    return r?.recording ? (JSON.parse(r.recording) as RunRecording) : undefined;
  }

  /**
   * Runs left queued/running by a gateway that died: they can never finish now. They end `killed`
   * (gateway_restart) with their run.end still to be written (endingsUnrecorded finds them).
   */
  markAbandoned(now: string): number {
    return this.db
      .prepare(`UPDATE runs SET state = 'killed', reason = 'gateway_restart', ended_at = ?, error = ?, end_seq = NULL WHERE state IN ('queued', 'running')`)
      .run(now, JSON.stringify({ code: 'gateway_restart', message: 'the gateway stopped before the run ended' })).changes;
  }

  /** Ended runs whose run.end is not yet in the audit log, oldest first. */
  endingsUnrecorded(limit = 1000): RunRecord[] {
    return (this.db.prepare(`SELECT * FROM runs WHERE end_seq IS NULL AND state NOT IN ('queued', 'running') ORDER BY created_at, run_id LIMIT ?`).all(limit) as Row[]).map(fromRow);
  }

  /** The run's run.end is in the audit log at `seq`. */
  markEndRecorded(runId: string, seq: number): void {
    this.db.prepare('UPDATE runs SET end_seq = ? WHERE run_id = ?').run(seq, runId);
  }
}
