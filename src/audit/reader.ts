/** Reading the audit log (read-only; works on the gateway's database with or without a gateway running). */
import { existsSync } from 'node:fs';
import { ClawguardError } from '../errors/index.js';
import { defaultDbFile, openSqlite, type SqliteDb } from '../store/index.js';
import { coreOf, type EventRow, hasAuditTables } from './tables.js';
import type { AuditEvent } from './types.js';

/** Open the state dir's database read-only. */
export function openAuditDb(stateDirOrFile: string, opts: { file?: boolean } = {}): SqliteDb {
  const file = opts.file ? stateDirOrFile : defaultDbFile(stateDirOrFile);
  if (!existsSync(file)) throw new ClawguardError('not_found', `no audit log: ${file} does not exist (has a gateway run with this --state-dir?)`);
  return openSqlite({ file, readonly: true });
}

export interface EventQuery {
  afterSeq?: number;
  /** ISO time: events at or after it. */
  since?: string;
  type?: string;
  runId?: string;
  limit?: number;
  /** newest first */
  desc?: boolean;
}


export function eventFromRow(r: EventRow): AuditEvent {
  const { v: _v, ...core } = coreOf(r);
  let payload: Record<string, unknown> | null = null;
  if (r.payload !== null) {
    try {
      payload = JSON.parse(r.payload) as Record<string, unknown>;
    } catch {
      payload = { unreadable: r.payload.slice(0, 200) };
    }
  }
  return { ...core, hash: r.hash, payload };
}

function query(q: EventQuery): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.afterSeq !== undefined) (where.push('e.seq > ?'), args.push(q.afterSeq));
  if (q.since !== undefined) (where.push('e.time >= ?'), args.push(q.since));
  if (q.type !== undefined) (where.push('e.type = ?'), args.push(q.type));
  if (q.runId !== undefined) (where.push('e.run_id = ?'), args.push(q.runId));
  let sql = `SELECT * FROM audit_events e ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.seq ${q.desc ? 'DESC' : 'ASC'}`;
  if (q.limit !== undefined) (sql += ' LIMIT ?'), args.push(q.limit);
  return { sql, args };
}

export function readEvents(db: SqliteDb, q: EventQuery = {}): AuditEvent[] {
  if (!hasAuditTables(db)) return [];
  const { sql, args } = query(q);
  return (db.prepare(sql).all(...args) as EventRow[]).map(eventFromRow);
}

export function* iterateEvents(db: SqliteDb, q: EventQuery = {}): Generator<AuditEvent> {
  if (!hasAuditTables(db)) return;
  const { sql, args } = query(q);
  for (const r of db.prepare(sql).iterate(...args) as IterableIterator<EventRow>) yield eventFromRow(r);
}

export function lastSeqOf(db: SqliteDb): number {
  if (!hasAuditTables(db)) return 0;
  return ((db.prepare('SELECT MAX(seq) AS s FROM audit_events').get() as { s: number | null }).s ?? 0);
}
