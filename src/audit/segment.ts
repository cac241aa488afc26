/**
 * A new segment: when the operator chooses to continue after a break (`start --audit-new-segment`),
 * the chain's tables are kept, renamed, as evidence (audit_events_segment_N, …), fresh ones take
 * their place, and the segment number goes up. The new segment's first event records the break
 * (what was found, what the witnesses held); its heads carry the segment number, so the witnesses
 * keep the previous segment's last head beside the new one.
 */
import type { SqliteDb } from '../store/index.js';
import { CHAIN_INDEXES, CHAIN_TABLES, CHAIN_TRIGGERS, createChainTables } from './tables.js';

/** Archive the current chain tables (if they hold anything) and create empty ones; returns the archive's table names. */
export function archiveChain(db: SqliteDb, oldSegment: number, newSegment: number): string[] {
  const archived: string[] = [];
  db.transaction(() => {
    const has = (t: string) => !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t);
    const rows = (t: string) => (has(t) ? ((db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n) : 0);
    const keep = CHAIN_TABLES.some((t) => rows(t) > 0);
    for (const tr of CHAIN_TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${tr}`);
    for (const ix of CHAIN_INDEXES) db.exec(`DROP INDEX IF EXISTS ${ix}`);
    for (const t of CHAIN_TABLES) {
      if (!has(t)) continue;
      if (!keep) {
        db.exec(`DROP TABLE ${t}`);
        continue;
      }
      let name = `${t}_segment_${oldSegment}`;
      for (let i = 2; has(name); i++) name = `${t}_segment_${oldSegment}_${i}`;
      db.exec(`ALTER TABLE ${t} RENAME TO ${name}`);
      archived.push(name);
    }
    createChainTables(db);
    db.prepare("UPDATE audit_meta SET value = '0' WHERE key = 'anchor'").run();
    db.prepare("INSERT INTO audit_meta (key, value) VALUES ('segment', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(newSegment));
  })();
  return archived;
}
