/**
 * Which errors mean "the store cannot be used right now": SQLite result codes for a lock held
 * elsewhere, a full disk, an I/O failure, a read-only or unopenable file, a damaged database.
 * One classification, used by the HTTP error map (503 store_unavailable), readiness and status.
 */
import { ClawguardError } from '../errors/index.js';

/** Primary result codes (extended codes such as SQLITE_IOERR_WRITE share their prefix). */
const UNAVAILABLE = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL', 'SQLITE_NOLFS', 'SQLITE_PERM', 'SQLITE_CORRUPT', 'SQLITE_NOTADB'];
/** Of those, the ones that pass by themselves (someone else's lock): worth retrying soon. */
const TRANSIENT = ['SQLITE_BUSY', 'SQLITE_LOCKED'];

export interface StoreFault {
  /** The SQLite code, e.g. SQLITE_BUSY or SQLITE_IOERR_WRITE. */
  sqlite: string;
  transient: boolean;
  message: string;
}

const family = (code: string, list: readonly string[]) => list.some((p) => code === p || code.startsWith(`${p}_`));

/** The store fault behind `e` (itself or its cause), or undefined when `e` is something else. */
export function storeFault(e: unknown): StoreFault | undefined {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && family(code, UNAVAILABLE)) {
      return { sqlite: code, transient: family(code, TRANSIENT), message: String((cur as { message?: unknown }).message ?? code) };
    }
  }
  return undefined;
}

/** The error callers see for a store fault: 503 store_unavailable, with Retry-After when it is transient. */
export function storeUnavailable(f: StoreFault): ClawguardError {
  const why = f.transient ? 'the database is locked by another process or connection; try again shortly' : f.message;
  return new ClawguardError('store_unavailable', `the store is unavailable (${f.sqlite}): ${why}`, f.transient ? { retryAfter: 1 } : {});
}
