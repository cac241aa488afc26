/** Helpers for the audit tests: a log in a temp state dir, events, raw access for tampering, an attacker's rewrites. */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The same SQLite build as the gateway's (two copies in one process do not see each other's locks).
import { SqliteDatabase as Database, type SqliteDb } from '../../src/store/index.js';
import { AuditLog, type AuditLogOptions, canonicalCore, CompactRange, type EventCore, eventHash, GENESIS, loadSigningKey } from '../../src/audit/index.js';
import { signCheckpoint } from '../../src/audit/checkpoint.js';
import { type SigningKey, spkiBase64 } from '../../src/audit/keys.js';
import { type CheckpointRow, coreOf, type EventRow } from '../../src/audit/tables.js';
import type { AuditEventInput } from '../../src/pipeline/index.js';

export function tempState(): string {
  return mkdtempSync(join(tmpdir(), 'cg-audit-'));
}

export function openLog(stateDir: string, o: Partial<AuditLogOptions> = {}): AuditLog {
  return AuditLog.open({ stateDir, pruneEveryMs: 0, ...o });
}

export function ev(i: number, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: 'tool.decision',
    agentId: `run:${i % 3}`,
    runId: `r${i % 3}`,
    subject: 'research',
    action: 'fs.read',
    resource: `/data/${i}.csv`,
    decision: i % 4 ? 'allow' : 'deny',
    tier: 'config',
    policies: [`config:research:allow:${i % 2}`],
    payload: { args: { path: `/data/${i}.csv` }, reasons: ['because'], n: i },
    ...extra,
  };
}

/** A writable raw connection with the append-only triggers removed: an attacker with the file. */
export function rawDb(file: string): SqliteDb {
  const db = new Database(file);
  for (const t of ['audit_events_append_only', 'audit_events_prune_only', 'audit_checkpoints_append_only', 'audit_checkpoints_prune_only', 'audit_keys_append_only', 'audit_keys_no_delete']) db.exec(`DROP TRIGGER IF EXISTS ${t}`);
  return db;
}

/** The same string with one character changed. */
export function flip(s: string, at = Math.floor(s.length / 2)): string {
  const c = s[at]!;
  const r = c === 'a' ? 'b' : c === '0' ? '1' : /[0-9]/.test(c) ? '0' : c === 'x' ? 'y' : 'a';
  return s.slice(0, at) + r + s.slice(at + 1);
}

/**
 * An attacker with the state dir rewrites the chain from `fromSeq` (after `mutate` changed that
 * event's core) and re-signs every checkpoint from there with `key`: hashes, links, Merkle roots
 * and subtree roots all recomputed, so only something outside the state dir can tell.
 */
export function rewriteAndResign(db: SqliteDb, fromSeq: number, mutate: (core: EventCore) => void, key: SigningKey): void {
  const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as EventRow[];
  const frontier = new CompactRange();
  const at = new Map<number, { root: string; frontier: string[]; last: string }>();
  let prev = GENESIS;
  for (const r of rows) {
    const core = coreOf(r);
    if (r.seq >= fromSeq) {
      if (r.seq === fromSeq) mutate(core);
      core.prev = prev;
      const hash = eventHash(canonicalCore(core));
      db.prepare('UPDATE audit_events SET decision = ?, resource = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(core.decision ?? null, core.resource ?? null, prev, hash, r.seq);
      r.hash = hash;
    }
    frontier.append(Buffer.from(r.hash, 'hex'));
    at.set(r.seq, { root: frontier.root().toString('hex'), frontier: frontier.toHex(), last: r.hash });
    prev = r.hash;
  }
  resignCheckpoints(db, key, (size) => at.get(size));
}

/** Re-sign every checkpoint (tree state given per size, or the stored one) with `key`. */
export function resignCheckpoints(db: SqliteDb, key: SigningKey, state: (size: number) => { root: string; frontier: string[]; last: string } | undefined = () => undefined): void {
  for (const cp of db.prepare('SELECT * FROM audit_checkpoints').all() as CheckpointRow[]) {
    const s = state(cp.tree_size) ?? { root: cp.root, frontier: JSON.parse(cp.frontier) as string[], last: cp.last_hash };
    const signed = signCheckpoint({ treeSize: cp.tree_size, time: cp.time, root: s.root, lastHash: s.last, keyId: key.keyId, publicKey: spkiBase64(key.publicKey) }, key.privateKey);
    db.prepare('UPDATE audit_checkpoints SET root = ?, last_hash = ?, frontier = ?, key_id = ?, public_key = ?, signature = ? WHERE tree_size = ?').run(signed.root, signed.lastHash, JSON.stringify(s.frontier), signed.keyId, signed.publicKey, signed.signature, cp.tree_size);
  }
}

/** The state dir's signing key, as an attacker who can read it has it. */
export function stateKey(stateDir: string): SigningKey {
  return loadSigningKey(stateDir, { create: false }).key;
}

/** Copy a directory tree (a state dir, a witness dir) to a fresh temp dir. */
export function copyDir(from: string): string {
  const to = mkdtempSync(join(tmpdir(), 'cg-audit-copy-'));
  cpSync(from, to, { recursive: true });
  return to;
}
