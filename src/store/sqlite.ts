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
  busyTimeoutMs?: number;
}

export function openSqlite(opts: OpenOptions): SqliteDb {
  let db: SqliteDb;
  try {
    db = new Database(opts.file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 5000 });
  } catch (e) {
    throw new ClawguardError('unavailable', `cannot open store ${opts.file}: ${(e as Error).message}`, { cause: e });
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
