import { RunRepository } from './runs.js';
import { defaultDbFile, openSqlite, type SqliteDb } from './sqlite.js';

export { openSqlite, migrate, defaultDbFile, failFastOnLocks, probeWritable, SERVING_BUSY_TIMEOUT_MS, type SqliteDb, Database as SqliteDatabase } from './sqlite.js';
export { RunRepository, TERMINAL_STATES, type RunRecord, type RunRecording, type RunState } from './runs.js';
export { acquireGatewayLock, readGatewayLock, gatewayLockPath, GATEWAY_LOCK_FILE, type GatewayLock, type GatewayLockInfo } from './gateway-lock.js';
export { resolveStateDir, defaultStateDir, ensureStateDir, writeSecretFile, readOrCreateSecretFile, operatorTokenPath, newToken, checkStateDir, stateDirKeyFiles } from './state-dir.js';
export { storeFault, storeUnavailable, type StoreFault } from './faults.js';
export { StoreHealth, type StoreHealthStatus } from './health.js';

/** The gateway's store: one SQLite database in the state dir; modules add their own repositories on `db`. */
export interface Store {
  readonly db: SqliteDb;
  readonly runs: RunRepository;
  close(): void;
}

export function openStore(stateDir: string | { file: string }, opts: { busyTimeoutMs?: number } = {}): Store {
  const file = typeof stateDir === 'string' ? defaultDbFile(stateDir) : stateDir.file;
  const db = openSqlite({ file, ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}) });
  const runs = new RunRepository(db);
  return { db, runs, close: () => db.close() };
}
