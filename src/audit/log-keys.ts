/**
 * The signing key a log opens with. A brand-new log (no events, checkpoints or key history)
 * creates its first key and records its genesis statement. Otherwise the state dir's key must be
 * the one the log's key history ends with (or, for a log from before key histories, the one that
 * signed its last checkpoint, which is then recorded); anything else is an error for the operator.
 * A new key file is put in place only after the statement that makes it the log's key is stored.
 */
import type { SqliteDb } from '../store/index.js';
import { appendKeyStatement, type KeyStatement, makeKeyStatement, readKeyHistory } from './key-history.js';
import { commitStagedKey, discardStagedKey, loadSigningKey, type SigningKey, spkiBase64, stagedKeyId } from './keys.js';

export interface OpenedKey {
  key: SigningKey | undefined;
  keyError: string | undefined;
  keys: KeyStatement[];
  /** The log is empty, yet a key was already there: the log it belonged to is gone. */
  keyPreexisted: boolean;
}

export function openSigningKey(db: SqliteDb | undefined, stateDir: string, o: { empty: boolean; segment: number }): OpenedKey {
  let keys: KeyStatement[] = [];
  try {
    keys = db ? readKeyHistory(db) : [];
  } catch (e) {
    return { key: undefined, keyError: `the log's key history is unreadable: ${(e as Error).message}`, keys: [], keyPreexisted: false };
  }
  // a key staged before a crash: kept if the history made it the log's key, else discarded
  const staged = stagedKeyId(stateDir);
  if (staged !== undefined) {
    if (keys.at(-1)?.keyId === staged) commitStagedKey(stateDir);
    else discardStagedKey(stateDir);
  }
  const fresh = !!db && o.empty && keys.length === 0;
  let key: SigningKey;
  let created: boolean;
  try {
    ({ key, created } = loadSigningKey(stateDir, { create: fresh }));
  } catch (e) {
    const owner = keys.at(-1)?.keyId ?? (db ? lastCheckpointKey(db)?.keyId : undefined);
    return { key: undefined, keyError: `checkpoint signing key unavailable: ${(e as Error).message}${owner ? ` (the log is signed by key ${owner})` : ''}`, keys, keyPreexisted: false };
  }
  if (!db) {
    if (created) commitStagedKey(stateDir);
    return { key, keyError: undefined, keys, keyPreexisted: false };
  }
  const current = keys.at(-1);
  if (current) {
    if (current.keyId !== key.keyId) return { key: undefined, keyError: `checkpoint signing key unavailable: the state dir's key ${key.keyId} is not the log's key ${current.keyId} (replaced?)`, keys, keyPreexisted: false };
    return { key, keyError: undefined, keys, keyPreexisted: false };
  }
  if (fresh && !created) return { key, keyError: undefined, keys, keyPreexisted: true };
  if (!fresh) {
    const last = lastCheckpointKey(db);
    if (last && last.publicKey !== spkiBase64(key.publicKey)) return { key: undefined, keyError: `checkpoint signing key unavailable: the state dir's key ${key.keyId} did not sign the log's last checkpoint (key ${last.keyId}): replaced?`, keys, keyPreexisted: false };
  }
  const genesis = makeKeyStatement(key, { segment: o.segment, fromSize: 0, reason: 'genesis' });
  appendKeyStatement(db, genesis);
  if (created) commitStagedKey(stateDir);
  return { key, keyError: undefined, keys: [genesis], keyPreexisted: false };
}

function lastCheckpointKey(db: SqliteDb): { keyId: string; publicKey: string } | undefined {
  const r = db.prepare('SELECT key_id, public_key FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1').get() as { key_id: string; public_key: string } | undefined;
  return r ? { keyId: r.key_id, publicKey: r.public_key } : undefined;
}
