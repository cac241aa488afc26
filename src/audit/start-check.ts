/**
 * What must hold before a gateway listens: the log opened (contiguous, its anchor in place), its
 * signing key is the log's key, and the tail since the last witnessed head verifies (chain,
 * hashes, checkpoints signed by the trusted key) and reaches every witness's head with the same
 * Merkle root. A log shorter than a witness's head, on another segment, or with another key than
 * the one pinned, is broken. Cheap on a healthy log: only events after the nearest checkpoint at or
 * below the smallest witnessed head are read. Full verification is `clawguard audit verify`.
 */
import { segmentOf } from './checkpoint.js';
import { keyForSize, type KeyStatement, sameStatement } from './key-history.js';
import type { SqliteDb } from '../store/index.js';
import { verifyAuditLog, type WitnessedHead } from './verify.js';
import type { WitnessTarget } from './witness-targets.js';
import type { WitnessState } from './witness-state.js';

export interface StartContext {
  db: SqliteDb | undefined;
  openError: string | undefined;
  /** The first bad seq when opening found one (events not contiguous). */
  openBadSeq: number | undefined;
  keyError: string | undefined;
  /** No events, checkpoints or key history, yet a signing key was already in the state dir. */
  keyPreexisted: boolean;
  keyId: string | undefined;
  keys: KeyStatement[];
  lastSeq: number;
  anchor: number;
  segment: number;
}

export interface Problem {
  seq?: number;
  message: string;
}

export type WitnessRead = { t: WitnessTarget; state: WitnessState } | { t: WitnessTarget; error: string };

const READ_TIMEOUT_MS = 5000;

/** What each readable witness holds (an error for one that cannot be read in time). */
export async function readWitnesses(targets: WitnessTarget[]): Promise<WitnessRead[]> {
  return Promise.all(
    targets
      .filter((t) => t.readable)
      .map(async (t): Promise<WitnessRead> => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const state = await Promise.race([t.fetch(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS)))]);
          return { t, state };
        } catch (e) {
          return { t, error: (e as Error).message };
        } finally {
          clearTimeout(timer);
        }
      }),
  );
}

/** The longest key history the witnesses pinned; a problem if two witnesses pinned histories that are not one another's prefix. */
export function pinnedHistory(reads: WitnessRead[]): { keys: KeyStatement[]; problem?: Problem } {
  let best: { keys: KeyStatement[]; name: string } | undefined;
  for (const r of reads) {
    if (!('state' in r) || r.state.keys.length === 0) continue;
    const k = r.state.keys;
    if (!best) {
      best = { keys: k, name: r.t.name };
      continue;
    }
    const [short, long] = k.length <= best.keys.length ? [k, best.keys] : [best.keys, k];
    if (!short.every((s, i) => sameStatement(s, long[i]!))) return { keys: best.keys, problem: { message: `the witnesses at ${best.name} and ${r.t.name} pinned different signing keys for this log` } };
    if (k.length > best.keys.length) best = { keys: k, name: r.t.name };
  }
  return { keys: best?.keys ?? [] };
}

export function findStartProblems(ctx: StartContext, reads: WitnessRead[]): Problem[] {
  const problems: Problem[] = [];
  if (ctx.openError) problems.push({ ...(ctx.openBadSeq !== undefined ? { seq: ctx.openBadSeq } : {}), message: ctx.openError });
  if (ctx.keyError) problems.push({ message: `${ctx.keyError}; a missing or replaced key is never replaced silently: run "clawguard audit rotate-key" (recorded in the chain and published to the witnesses)` });
  const states = reads.flatMap((r) => ('state' in r ? [{ name: r.t.name, state: r.state }] : []));
  const heads: WitnessedHead[] = [];
  for (const { name, state } of states) {
    const h = state.latest;
    if (!h) continue;
    if (segmentOf(h) > ctx.segment) problems.push({ seq: 1, message: `the witness at ${name} holds segment ${segmentOf(h)} of this log; the local log is segment ${ctx.segment} (replaced by an older copy?)` });
    else if (segmentOf(h) === ctx.segment) {
      if (h.treeSize > ctx.lastSeq) problems.push({ seq: ctx.lastSeq + 1, message: `events ${ctx.lastSeq + 1}..${h.treeSize} are missing: the witness at ${name} saw a tree of ${h.treeSize}${ctx.lastSeq === 0 ? ' (clawguard.db deleted or replaced?)' : ''}` });
      else heads.push({ name, treeSize: h.treeSize, root: h.root });
    }
  }
  if (ctx.keyPreexisted && !problems.some((p) => p.seq === 1)) problems.push({ seq: 1, message: `the state dir holds a signing key (key ${ctx.keyId}) but no audit log: clawguard.db was deleted or replaced` });
  const pinned = pinnedHistory(reads);
  if (pinned.problem) problems.push(pinned.problem);
  for (const { name, state } of states) {
    if (state.keys.length === 0) continue;
    const extends_ = state.keys.every((s, i) => ctx.keys[i] && sameStatement(s, ctx.keys[i]!));
    if (!extends_) problems.push({ message: `the log's signing keys are not the ones pinned at the witness at ${name} (it trusts key ${state.keys.at(-1)!.keyId}${ctx.keyId ? `, the log has key ${ctx.keyId}` : ''})` });
  }
  if (problems.length || !ctx.db || ctx.lastSeq <= ctx.anchor) return problems;
  // Keys the witnesses have not pinned yet (a rotation while they were unreachable) are offered to
  // them by the publisher; they accept one only if it does not re-sign what they hold.
  const maxHead = Math.max(0, ...heads.map((h) => h.treeSize));
  for (const k of ctx.keys.slice(pinned.keys.length)) {
    if (k.segment === ctx.segment && k.fromSize < maxHead) problems.push({ seq: k.fromSize, message: `key ${k.keyId} signs from seq ${k.fromSize}, inside the ${maxHead} events the witnesses already hold: a key cannot re-sign witnessed history` });
  }
  if (problems.length) return problems;
  // the tail: from the nearest checkpoint at or below the smallest witnessed head (or the last checkpoint)
  const trusted = ctx.keys;
  const minHead = heads.length ? Math.min(...heads.map((h) => h.treeSize)) : Number.MAX_SAFE_INTEGER;
  const base = (ctx.db.prepare('SELECT MAX(tree_size) AS s FROM audit_checkpoints WHERE tree_size <= ? AND tree_size >= ?').get(minHead, ctx.anchor) as { s: number | null }).s ?? ctx.anchor;
  const r = verifyAuditLog(ctx.db, {
    from: base,
    witnessed: heads,
    ...(trusted.length ? { keyFor: (size: number) => keyForSize(trusted, ctx.segment, size) } : {}),
  });
  if (!r.ok) problems.push({ ...(r.firstBadSeq !== undefined ? { seq: r.firstBadSeq } : {}), message: r.problem! });
  return problems;
}

/** The refusal: the first bad seq first, then everything else found, then what the operator can do. */
export function describeProblems(problems: Problem[]): string {
  const seqs = problems.filter((p) => p.seq !== undefined).map((p) => p.seq!);
  const first = seqs.length ? Math.min(...seqs) : undefined;
  const lines = problems.map((p) => `  - ${p.message}`);
  return [
    first !== undefined ? `the audit log is broken at seq ${first}:` : 'the audit log cannot be trusted:',
    ...lines,
    'refusing to start. Run "clawguard audit verify" for a full check; to continue on a new, witnessed segment that records this break, start with --audit-new-segment.',
  ].join('\n');
}
