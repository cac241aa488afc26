/** The identity module's tables in the gateway store (migrations run once, in order). */
import { migrate, type SqliteDb } from '../store/index.js';

const STEPS = [
  `CREATE TABLE identity_agents (
     agent_id TEXT PRIMARY KEY,
     public_key TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     signature_algorithm TEXT NOT NULL,
     trust_level TEXT NOT NULL,
     capabilities TEXT NOT NULL,
     profile TEXT,
     created TEXT NOT NULL,
     expires TEXT,
     last_seen TEXT,
     revoked_at TEXT,
     revoked_reason TEXT
   );
   CREATE TABLE identity_sessions (
     jti TEXT PRIMARY KEY,
     family TEXT NOT NULL,
     agent_id TEXT NOT NULL,
     issued_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     family_started_at INTEGER NOT NULL,
     rotated_at INTEGER,
     grace_until INTEGER,
     replaced_by TEXT,
     revoked_at INTEGER
   );
   CREATE INDEX identity_sessions_agent ON identity_sessions(agent_id);
   CREATE INDEX identity_sessions_family ON identity_sessions(family);
   CREATE TABLE identity_operator_tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     token_hash BLOB NOT NULL,
     scopes TEXT NOT NULL,
     created TEXT NOT NULL,
     expires TEXT,
     revoked_at TEXT
   );`,
];

export function migrateIdentity(db: SqliteDb): void {
  migrate(db, 'identity', STEPS);
}
