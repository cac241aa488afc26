/** The embedded SQLite store (better-sqlite3): WAL, full sync, per-module migrations. */
import type BetterSqlite3 from 'better-sqlite3';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ClawguardError } from '../errors/index.js';

export type SqliteDb = BetterSqlite3.Database;

/**
 * better-sqlite3 12.x builds on Node 20; on Node 24 its statement finalizer can abort the process at
 * exit (upstream issue, fixed in 13.x, which needs Node >= 22). 13.x is installed as the optional
 * alias better-sqlite3-node22 and preferred where it loads.
 */
export const Database: typeof BetterSqlite3 = (() => {
  const req = createRequire(import.meta.url);
  if (Number(process.versions.node.split('.')[0]) >= 22) {
    try {
      return req('better-sqlite3-node22') as typeof BetterSqlite3;
    } catch {
      /* fall back to 12.x */
    }
  }
  return req('better-sqlite3') as typeof BetterSqlite3;
})();

export interface OpenOptions {
  /** File path, or ':memory:'. */
  file: string;
  readonly?: boolean;
  /** How long a statement waits for a lock held elsewhere (opening and migrating may wait; see failFastOnLocks). */
  busyTimeoutMs?: number;
}

/**
 * A serving gateway never waits for a lock: better-sqlite3 waits out its busy timeout
 * synchronously, on the event loop, so a lock held by another process (a backup, `sqlite3` with
 * BEGIN EXCLUSIVE) would freeze every request. With no wait, the statement fails at once with
 * SQLITE_BUSY, which callers treat as transient (503 store_unavailable, or a retry off the hot path).
 */
export const SERVING_BUSY_TIMEOUT_MS = 0;

export function failFastOnLocks(db: SqliteDb): void {
  db.pragma(`busy_timeout = ${SERVING_BUSY_TIMEOUT_MS}`);
}

/**
 * Whether a write could start right now, without waiting and without writing: takes the write
 * lock and gives it back. Throws the SQLite error (SQLITE_BUSY, SQLITE_READONLY…) when it cannot.
 */
export function probeWritable(db: SqliteDb): void {
  if (db.inTransaction) return;
  db.exec('BEGIN IMMEDIATE');
  db.exec('ROLLBACK');
}

export function openSqlite(opts: OpenOptions): SqliteDb {
  let db: SqliteDb;
  try {
    db = new Database(opts.file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 5000 });
  } catch (e) {
    throw new ClawguardError('store_unavailable', `cannot open store ${opts.file}: ${(e as Error).message}`, { cause: e });
  }
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    // FULL: a committed transaction survives power loss; the audit log relies on it.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  }
  return db;
}

export function defaultDbFile(stateDir: string): string {
  return join(stateDir, 'clawguard.db');
}

/**
 * Each module owns its tables and brings an ordered list of migrations; the store records
 * how many of each module's migrations have run.
 */
export function migrate(db: SqliteDb, module: string, steps: string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_migrations WHERE module = ?').get(module) as { version: number } | undefined;
  const from = row?.version ?? 0;
  if (from >= steps.length) return;
  db.transaction(() => {
    for (let i = from; i < steps.length; i++) db.exec(steps[i]!);
    db.prepare('INSERT INTO schema_migrations (module, version) VALUES (?, ?) ON CONFLICT(module) DO UPDATE SET version = excluded.version').run(module, steps.length);
  })();
}
