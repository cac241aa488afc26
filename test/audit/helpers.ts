/** Helpers for the audit tests: a log in a temp state dir, events, raw access for tampering. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The same SQLite build as the gateway's (two copies in one process do not see each other's locks).
import { SqliteDatabase as Database, type SqliteDb } from '../../src/store/index.js';
import { AuditLog, type AuditLogOptions } from '../../src/audit/index.js';
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
