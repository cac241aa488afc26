/**
 * The secrets module's tables in the gateway's SQLite store. Values are stored only sealed
 * (AES-256-GCM, enc = 'aes-gcm') or wrapped by KMS (enc = 'kms'); never in plaintext.
 */
import { migrate, type SqliteDb } from '../store/index.js';

const STEPS = [
  `CREATE TABLE secret_values (
     name TEXT NOT NULL,
     version INTEGER NOT NULL,
     enc TEXT NOT NULL,
     iv BLOB,
     tag BLOB,
     ciphertext BLOB NOT NULL,
     created_at INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('current', 'previous')),
     grace_until INTEGER,
     generated INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (name, version)
   );
   CREATE TABLE secret_state (
     name TEXT PRIMARY KEY,
     source TEXT NOT NULL,
     version TEXT,
     seq INTEGER NOT NULL DEFAULT 0,
     fingerprint TEXT,
     last_rotated_at INTEGER,
     last_checked_at INTEGER,
     last_error TEXT,
     missed_due_at INTEGER
   );`,
];

export interface ValueRow {
  name: string;
  version: number;
  enc: 'aes-gcm' | 'kms';
  iv: Buffer | null;
  tag: Buffer | null;
  ciphertext: Buffer;
  created_at: number;
  state: 'current' | 'previous';
  grace_until: number | null;
  generated: number;
}

export interface StateRow {
  name: string;
  source: string;
  version: string | null;
  seq: number;
  fingerprint: string | null;
  last_rotated_at: number | null;
  last_checked_at: number | null;
  last_error: string | null;
  missed_due_at: number | null;
}

export class SecretStore {
  constructor(readonly db: SqliteDb) {
    migrate(db, 'secrets', STEPS);
  }

  current(name: string): ValueRow | undefined {
    return this.db.prepare("SELECT * FROM secret_values WHERE name = ? AND state = 'current'").get(name) as ValueRow | undefined;
  }

  previous(name: string): ValueRow[] {
    return this.db.prepare("SELECT * FROM secret_values WHERE name = ? AND state = 'previous' ORDER BY version DESC").all(name) as ValueRow[];
  }

  /** The next version number for `name` (versions are never reused, even after revocation). */
  nextVersion(name: string): number {
    const cur = this.db.prepare('SELECT MAX(version) AS v FROM secret_values WHERE name = ?').get(name) as { v: number | null };
    const st = this.getState(name);
    const fromState = st?.version && /^\d+$/.test(st.version) ? Number(st.version) : 0;
    return Math.max(cur.v ?? 0, fromState) + 1;
  }

  /** Makes `row` the current version; the old current stays valid (state previous) until `graceUntil`. */
  addVersion(row: Omit<ValueRow, 'state' | 'grace_until'>, graceUntil: number): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE secret_values SET state = 'previous', grace_until = ? WHERE name = ? AND state = 'current'").run(graceUntil, row.name);
      this.db
        .prepare("INSERT INTO secret_values (name, version, enc, iv, tag, ciphertext, created_at, state, grace_until, generated) VALUES (?, ?, ?, ?, ?, ?, ?, 'current', NULL, ?)")
        .run(row.name, row.version, row.enc, row.iv, row.tag, row.ciphertext, row.created_at, row.generated);
    })();
  }

  /** Deletes previous versions whose grace has ended: revoked values are gone from the store. */
  revokeExpired(name: string, now: number): number {
    return this.db.prepare("DELETE FROM secret_values WHERE name = ? AND state = 'previous' AND grace_until <= ?").run(name, now).changes;
  }

  getState(name: string): StateRow | undefined {
    return this.db.prepare('SELECT * FROM secret_state WHERE name = ?').get(name) as StateRow | undefined;
  }

  listStates(): StateRow[] {
    return this.db.prepare('SELECT * FROM secret_state ORDER BY name').all() as StateRow[];
  }

  putState(s: StateRow): void {
    this.db
      .prepare(
        `INSERT INTO secret_state (name, source, version, seq, fingerprint, last_rotated_at, last_checked_at, last_error, missed_due_at)
         VALUES (@name, @source, @version, @seq, @fingerprint, @last_rotated_at, @last_checked_at, @last_error, @missed_due_at)
         ON CONFLICT(name) DO UPDATE SET source = excluded.source, version = excluded.version, seq = excluded.seq, fingerprint = excluded.fingerprint,
           last_rotated_at = excluded.last_rotated_at, last_checked_at = excluded.last_checked_at, last_error = excluded.last_error, missed_due_at = excluded.missed_due_at`,
      )
      .run(s);
  }
}
