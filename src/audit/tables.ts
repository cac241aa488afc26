/**
 * The audit tables: events (the chain; each row also carries its payload and salt, outside the
 * hashed core, erasable), checkpoints, the signing keys' history, meta (anchor, segment).
 */
import type { SqliteDb } from '../store/index.js';
import { migrate } from '../store/index.js';
import type { EventCore } from './canonical.js';

/** The chain's tables as they are created (again, for a new segment: see segment.ts). */
const TABLES_V1 = `CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY,
     time TEXT NOT NULL,
     type TEXT NOT NULL,
     agent_id TEXT, run_id TEXT, subject TEXT, action TEXT, resource TEXT,
     decision TEXT, tier TEXT, policies TEXT,
     payload_hash TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL,
     payload_salt TEXT,
     payload TEXT
   );
   CREATE INDEX audit_events_time ON audit_events(time);
   CREATE INDEX audit_events_run ON audit_events(run_id) WHERE run_id IS NOT NULL;
   CREATE TABLE audit_checkpoints (
     tree_size INTEGER PRIMARY KEY,
     time TEXT NOT NULL,
     root TEXT NOT NULL,
     last_hash TEXT NOT NULL,
     frontier TEXT NOT NULL,
     key_id TEXT NOT NULL,
     public_key TEXT NOT NULL,
     signature TEXT NOT NULL
   );
   CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
     WHEN NEW.seq IS NOT OLD.seq OR NEW.time IS NOT OLD.time OR NEW.type IS NOT OLD.type OR NEW.agent_id IS NOT OLD.agent_id
       OR NEW.run_id IS NOT OLD.run_id OR NEW.subject IS NOT OLD.subject OR NEW.action IS NOT OLD.action OR NEW.resource IS NOT OLD.resource
       OR NEW.decision IS NOT OLD.decision OR NEW.tier IS NOT OLD.tier OR NEW.policies IS NOT OLD.policies OR NEW.payload_hash IS NOT OLD.payload_hash
       OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash OR NEW.payload IS NOT NULL OR NEW.payload_salt IS NOT NULL
     BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (only a payload may be erased)'); END;
   CREATE TRIGGER audit_events_prune_only BEFORE DELETE ON audit_events
     WHEN OLD.seq > (SELECT CAST(value AS INTEGER) FROM audit_meta WHERE key = 'anchor')
     BEGIN SELECT RAISE(ABORT, 'audit events are deleted only by pruning up to a checkpoint'); END;
   CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE ON audit_checkpoints
     BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;`;

/**
 * Checkpoints get the events' protection against deletion (only pruning below the anchor), and the
 * signing keys' history (each key's self-signed statement, see key-history.ts) is kept append-only.
 */
const TABLES_V2 = `CREATE TRIGGER audit_checkpoints_prune_only BEFORE DELETE ON audit_checkpoints
     WHEN OLD.tree_size >= (SELECT CAST(value AS INTEGER) FROM audit_meta WHERE key = 'anchor')
     BEGIN SELECT RAISE(ABORT, 'audit checkpoints are deleted only by pruning below the anchor'); END;
   CREATE TABLE audit_keys (n INTEGER PRIMARY KEY, key_id TEXT NOT NULL, statement TEXT NOT NULL);
   CREATE TRIGGER audit_keys_append_only BEFORE UPDATE ON audit_keys
     BEGIN SELECT RAISE(ABORT, 'audit_keys is append-only'); END;
   CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys
     BEGIN SELECT RAISE(ABORT, 'audit_keys is append-only'); END;`;

const MIGRATIONS = [
  `${TABLES_V1}
   CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   INSERT INTO audit_meta (key, value) VALUES ('anchor', '0');`,
  `${TABLES_V2}
   INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('segment', '1');`,
];

/** The chain's tables, triggers and indexes, by name (a new segment archives and recreates them). */
export const CHAIN_TABLES = ['audit_events', 'audit_checkpoints', 'audit_keys'] as const;
export const CHAIN_TRIGGERS = ['audit_events_append_only', 'audit_events_prune_only', 'audit_checkpoints_append_only', 'audit_checkpoints_prune_only', 'audit_keys_append_only', 'audit_keys_no_delete'] as const;
export const CHAIN_INDEXES = ['audit_events_time', 'audit_events_run'] as const;

/** Create the chain's tables afresh (after the old ones were archived under other names). */
export function createChainTables(db: SqliteDb): void {
  db.exec(`${TABLES_V1}\n${TABLES_V2}`);
}

export function migrateAudit(db: SqliteDb): void {
  migrate(db, 'audit', MIGRATIONS);
}

export function hasAuditTables(db: SqliteDb): boolean {
  return !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'").get();
}

export interface EventRow {
  seq: number;
  time: string;
  type: string;
  agent_id: string | null;
  run_id: string | null;
  subject: string | null;
  action: string | null;
  resource: string | null;
  decision: string | null;
  tier: string | null;
  policies: string | null;
  payload_hash: string;
  prev_hash: string;
  hash: string;
  payload_salt: string | null;
  payload: string | null;
}

export interface CheckpointRow {
  tree_size: number;
  time: string;
  root: string;
  last_hash: string;
  frontier: string;
  key_id: string;
  public_key: string;
  signature: string;
}

export function coreOf(r: EventRow): EventCore {
  const c: EventCore = { v: 1, seq: r.seq, time: r.time, type: r.type, payloadHash: r.payload_hash, prev: r.prev_hash };
  if (r.agent_id !== null) c.agentId = r.agent_id;
  if (r.run_id !== null) c.runId = r.run_id;
  if (r.subject !== null) c.subject = r.subject;
  if (r.action !== null) c.action = r.action;
  if (r.resource !== null) c.resource = r.resource;
  if (r.decision !== null) c.decision = r.decision as EventCore['decision'];
  if (r.tier !== null) c.tier = r.tier as EventCore['tier'];
  if (r.policies !== null) c.policies = JSON.parse(r.policies) as string[];
  return c;
}

/** The log segment the tables hold (1 unless the log continued on a new segment after a break). */
export function segmentOfDb(db: SqliteDb): number {
  const r = db.prepare("SELECT value FROM audit_meta WHERE key = 'segment'").get() as { value: string } | undefined;
  const n = r ? Number(r.value) : 1;
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
}

export function anchorOf(db: SqliteDb): number {
  const r = db.prepare("SELECT value FROM audit_meta WHERE key = 'anchor'").get() as { value: string } | undefined;
  return r ? Number(r.value) : 0;
}
