/**
 * What a witness holds for one log, and the rules by which it accepts more: the key history it
 * pinned (trust on first contact, then only statements that extend it), and the latest signed tree
 * head, replaced only by a head signed with the pinned key that is provably an extension of it (an
 * RFC 6962 consistency proof from the size it holds). A new segment (the log continued after a
 * break) is accepted and remembered, with the head the previous segment ended on. The directory
 * witness and the witness server both apply exactly these rules.
 */
import { type Checkpoint, checkpointSignatureOk, parseCheckpoint, segmentOf } from './checkpoint.js';
import { pathFromHex, verifyConsistency } from './consistency.js';
import { historyProblem, type KeyStatement, parseKeyStatement, sameStatement } from './key-history.js';
import { publicKeyFromSpkiBase64 } from './keys.js';

export interface WitnessState {
  v: 1;
  keys: KeyStatement[];
  latest: Checkpoint | null;
  /** Segments after the first: when each started and the head the one before it ended on. */
  segments: Array<{ segment: number; startedAt: string; previous: Checkpoint | null }>;
}

export const emptyWitnessState = (): WitnessState => ({ v: 1, keys: [], latest: null, segments: [] });

export type RefusalCode = 'inconsistent' | 'unknown_key' | 'bad_signature' | 'stale' | 'bad_request';

export type Verdict = { ok: true; state: WitnessState; changed: boolean } | { ok: false; code: RefusalCode; message: string };

/** A checkpoint submission: the head and the proof that it extends the head the witness holds. */
export interface Submission {
  checkpoint: Checkpoint;
  consistency: { from: number; path: string[] };
}

const refuse = (code: RefusalCode, message: string): Verdict => ({ ok: false, code, message });

export function parseWitnessState(v: unknown): WitnessState | undefined {
  const s = v as Partial<WitnessState> | null;
  if (!s || typeof s !== 'object' || s.v !== 1 || !Array.isArray(s.keys) || !Array.isArray(s.segments)) return undefined;
  const keys = s.keys.map(parseKeyStatement);
  if (keys.some((k) => !k) || historyProblem(keys as KeyStatement[])) return undefined;
  const latest = s.latest === null ? null : parseCheckpoint(s.latest);
  if (latest === undefined) return undefined;
  const segments: WitnessState['segments'] = [];
  for (const g of s.segments) {
    if (!g || !Number.isSafeInteger(g.segment) || typeof g.startedAt !== 'string') return undefined;
    const previous = g.previous === null ? null : parseCheckpoint(g.previous);
    if (previous === undefined) return undefined;
    segments.push({ segment: g.segment, startedAt: g.startedAt, previous });
  }
  return { v: 1, keys: keys as KeyStatement[], latest, segments };
}

/** Pin the log's key history: all of it on first contact; afterwards only statements that extend what is pinned. */
export function acceptKeys(state: WitnessState, body: unknown): Verdict {
  const raw = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 1000) return refuse('bad_request', 'expected {"keys": [key statements]}');
  const keys: KeyStatement[] = [];
  for (const [i, k] of raw.entries()) {
    const st = parseKeyStatement(k);
    if (!st) return refuse('bad_signature', `keys[${i}] is not a key statement signed by its own key`);
    keys.push(st);
  }
  const problem = historyProblem(keys);
  if (problem) return refuse('bad_request', `not a key history: ${problem}`);
  const pinned = state.keys;
  for (let i = 0; i < pinned.length; i++) {
    if (!keys[i] || !sameStatement(keys[i]!, pinned[i]!)) {
      return refuse('unknown_key', `this witness pinned key ${pinned.at(-1)!.keyId} (${pinned.length} key${pinned.length === 1 ? '' : 's'} in its history); the history presented ${keys[i] ? `differs at key ${i + 1} (${keys[i]!.keyId})` : `ends at key ${keys.length}`}`);
    }
  }
  if (keys.length === pinned.length) return { ok: true, state, changed: false };
  const latest = state.latest;
  for (const k of keys.slice(pinned.length)) {
    if (pinned.length > 0 && latest && k.segment === segmentOf(latest) && k.fromSize < latest.treeSize) {
      return refuse('inconsistent', `key ${k.keyId} would sign from size ${k.fromSize}, but this witness already holds a head of ${latest.treeSize} events signed by ${latest.keyId}: a new key cannot re-sign witnessed history`);
    }
    if (latest && k.segment < segmentOf(latest)) return refuse('inconsistent', `key ${k.keyId} is for segment ${k.segment}; this witness is on segment ${segmentOf(latest)}`);
  }
  return { ok: true, state: { ...state, keys }, changed: true };
}

/** Replace the latest head: signed by the current pinned key, for its segment, and consistent with the head held. */
export function acceptCheckpoint(state: WitnessState, body: unknown, now = new Date()): Verdict {
  const b = body as Partial<Submission> | null;
  const cp = parseCheckpoint(b?.checkpoint);
  if (!cp) return refuse('bad_request', 'expected {"checkpoint": a signed checkpoint, "consistency": {"from": N, "path": [hex]}}');
  const key = state.keys.at(-1);
  if (!key) return refuse('unknown_key', 'this witness has no key pinned for this log: publish the key history first');
  if (cp.keyId !== key.keyId || cp.publicKey !== key.publicKey) return refuse('unknown_key', `the head is signed by key ${cp.keyId}; this witness trusts ${key.keyId} for this log`);
  if (!checkpointSignatureOk(cp, publicKeyFromSpkiBase64(key.publicKey)).ok) return refuse('bad_signature', `the head of ${cp.treeSize} events does not verify with key ${key.keyId}`);
  if (segmentOf(cp) !== key.segment) return refuse('inconsistent', `the head is for segment ${segmentOf(cp)}; key ${key.keyId} signs segment ${key.segment}`);
  if (cp.treeSize < key.fromSize) return refuse('inconsistent', `key ${key.keyId} signs from size ${key.fromSize}, not a head of ${cp.treeSize}`);
  const latest = state.latest;
  if (!latest || segmentOf(latest) < segmentOf(cp)) {
    const segments = latest ? [...state.segments, { segment: segmentOf(cp), startedAt: now.toISOString(), previous: latest }] : state.segments;
    return { ok: true, state: { ...state, latest: cp, segments }, changed: true };
  }
  if (segmentOf(latest) > segmentOf(cp)) return refuse('inconsistent', `this witness is on segment ${segmentOf(latest)}, the head on ${segmentOf(cp)}`);
  const w = latest.treeSize;
  if (cp.treeSize < w) return refuse('inconsistent', `this witness holds a head of ${w} events; a head of ${cp.treeSize} means events ${cp.treeSize + 1}..${w} are missing`);
  if (cp.treeSize === w) {
    if (cp.root === latest.root && cp.lastHash === latest.lastHash) return { ok: true, state, changed: false };
    return refuse('inconsistent', `this witness holds a different head of ${w} events (root ${latest.root.slice(0, 16)}…, the new one ${cp.root.slice(0, 16)}…): the log was rewritten`);
  }
  const from = b?.consistency?.from;
  if (from !== w) return refuse('stale', `this witness holds a head of ${w} events; send a consistency proof from ${w}, not from ${JSON.stringify(from)}`);
  const path = pathFromHex(b?.consistency?.path);
  if (!path) return refuse('bad_request', 'consistency.path must be an array of SHA-256 hashes (hex)');
  if (!verifyConsistency(w, cp.treeSize, Buffer.from(latest.root, 'hex'), Buffer.from(cp.root, 'hex'), path)) {
    return refuse('inconsistent', `the head of ${cp.treeSize} events is not an extension of the head of ${w} this witness holds (the consistency proof fails): the first ${w} events were rewritten`);
  }
  return { ok: true, state: { ...state, latest: cp }, changed: true };
}
