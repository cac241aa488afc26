/**
 * `audit verify` against the witnesses: the key trusted for each checkpoint is the one the
 * witnesses pinned (extended only by rotations the previous key endorsed), not the state dir's
 * file, and the log must reach each witness's head with the same Merkle root. A witness that
 * cannot be read fails the verification (the check could not be made). Without a readable witness
 * the result says plainly that truncation cannot be detected.
 */
import type { KeyObject } from 'node:crypto';
import { defaultDbFile, openSqlite } from '../store/index.js';
import { segmentOf } from './checkpoint.js';
import { keyForSize, type KeyStatement, readKeyHistory, trustedHistory } from './key-history.js';
import { publicKeyFromSpkiBase64 } from './keys.js';
import { pinnedHistory, readWitnesses } from './start-check.js';
import { segmentOfDb } from './tables.js';
import { verifyAuditLogParallel, type VerifyResult, type WitnessedHead } from './verify.js';
import type { WitnessTarget } from './witness-targets.js';

export interface WitnessedVerifyResult extends VerifyResult {
  /** Whether a witness that can say what it holds was checked: otherwise truncation cannot be detected. */
  truncationDetectable: boolean;
  witnesses: Array<{ name: string; detects: boolean; treeSize: number | null; segment: number | null; keyId: string | null; segments: number; error?: string }>;
  warnings: string[];
}

export const NO_WITNESS = 'truncation cannot be detected: no witness is configured (audit.witness), so whoever can write the state dir can delete the newest events, or rewrite the log and re-sign it with the state dir\'s key, and this check would not notice';

export async function verifyWithWitnesses(
  where: { stateDir: string } | { file: string },
  targets: WitnessTarget[],
  o: { publicKey?: KeyObject; keySource?: string; keyProblem?: string } = {},
): Promise<WitnessedVerifyResult> {
  const file = 'file' in where ? where.file : defaultDbFile(where.stateDir);
  const reads = await readWitnesses(targets);
  let local: KeyStatement[] = [];
  let segment = 1;
  const db = openSqlite({ file, readonly: true });
  try {
    segment = segmentOfDb(db);
    try {
      local = readKeyHistory(db);
    } catch {
      local = [];
    }
  } finally {
    db.close();
  }
  const pinned = pinnedHistory(reads);
  const trusted = pinned.keys.length ? trustedHistory(pinned.keys, local) : [];
  const heads: WitnessedHead[] = [];
  const problems: string[] = [];
  const witnesses: WitnessedVerifyResult['witnesses'] = targets.map((t) => ({ name: t.name, detects: t.readable, treeSize: null, segment: null, keyId: null, segments: 1 }));
  for (const r of reads) {
    const w = witnesses[targets.indexOf(r.t)]!;
    if ('error' in r) {
      w.error = r.error;
      problems.push(`the witness at ${r.t.name} could not be read (${r.error}): consistency with it was not checked`);
      continue;
    }
    const h = r.state.latest;
    Object.assign(w, { treeSize: h?.treeSize ?? null, segment: h ? segmentOf(h) : null, keyId: r.state.keys.at(-1)?.keyId ?? null, segments: 1 + r.state.segments.length });
    if (!h) continue;
    if (segmentOf(h) > segment) problems.push(`the witness at ${r.t.name} holds segment ${segmentOf(h)} of this log; the local log is segment ${segment} (replaced by an older copy?)`);
    else if (segmentOf(h) === segment) heads.push({ name: r.t.name, treeSize: h.treeSize, root: h.root });
  }
  if (pinned.problem) problems.push(pinned.problem.message);
  const keyFor = trusted.length ? (size: number) => keyForSize(trusted, segment, size) : undefined;
  const r = await verifyAuditLogParallel(where, {
    witnessed: heads,
    ...(keyFor ? { keyFor } : o.publicKey ? { publicKey: o.publicKey, keySource: o.keySource ?? 'given' } : {}),
  });
  const detectable = reads.some((x) => 'state' in x);
  const out: WitnessedVerifyResult = { ...r, truncationDetectable: detectable, witnesses, warnings: [] };
  if (keyFor) {
    const last = keyForSize(trusted, segment, Number.MAX_SAFE_INTEGER);
    out.key = last ? { keyId: last.keyId, source: `pinned at ${reads.find((x) => 'state' in x && x.state.keys.length)!.t.name}` } : null;
    if (local.length > trusted.length) out.warnings.push(`the log names ${local.length - trusted.length} newer signing key(s) no witness has pinned yet and the previous key did not endorse: checkpoints they sign are not trusted until a witness pins them`);
  }
  if (!detectable) out.warnings.push(targets.some((t) => t.readable) ? 'truncation could not be checked: no witness could be read' : NO_WITNESS);
  if (out.ok && o.keyProblem && !keyFor) problems.push(o.keyProblem);
  if (out.ok && !keyFor && !o.publicKey && r.checkpoints > 0) problems.push(`no trusted key: the ${r.checkpoints} checkpoint(s) could only be checked against the keys they carry themselves (the state dir has no audit-signing.pub or .key, and no witness has pinned one); pass --public-key FILE or configure a witness`);
  if (out.ok && problems.length) return { ...out, ok: false, problem: problems.join('; ') };
  if (!out.ok && problems.length) out.warnings.push(...problems);
  return out;
}

/** The key the witnesses pinned for a tree of `treeSize` on `segment`, if any can be read. */
export async function pinnedKeyFor(targets: WitnessTarget[], segment: number, treeSize: number): Promise<{ key: KeyObject; source: string } | undefined> {
  const reads = await readWitnesses(targets);
  const pinned = pinnedHistory(reads);
  const k = keyForSize(pinned.keys, segment, treeSize);
  const from = reads.find((r) => 'state' in r && r.state.keys.length);
  return k && from ? { key: publicKeyFromSpkiBase64(k.publicKey), source: `pinned at ${from.t.name}` } : undefined;
}
