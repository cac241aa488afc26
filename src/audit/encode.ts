/**
 * Events as they are stored: each one's canonical payload (whole, or refused when too large to
 * keep whole), salt and payload hash, its canonical core chained to the one before, its hash, and
 * the Merkle frontier with it appended. Pure: the writer commits the rows or drops them.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEventInput } from '../pipeline/index.js';
import { canonicalCore, canonicalJson, type EventCore } from './canonical.js';
import { type CompactRange, eventHash, sha256Hex } from './hash.js';

/**
 * Four times the bound on a call's deciding arguments (tools/audit-args.ts), so a call within that
 * bound always fits with its reasons; anything larger is refused whole rather than kept in part.
 */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

export type Row = [number, string, string, string | null, string | null, string | null, string | null, string | null, string | null, string | null, string | null, string, string, string, string, string];

/**
 * Text as SQLite will store it: a lone surrogate cannot be kept in UTF-8 and would come back as
 * U+FFFD, so it is replaced before hashing; otherwise such an event could never verify.
 */
const wellFormed = (s: string): string => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
const str = (v: unknown): string | null => (v === undefined || v === null ? null : wellFormed(String(v)));

export class TooLarge extends Error {}

/** The canonical payload, whole; TooLarge when it is more than `max` UTF-8 bytes. */
export function payloadText(payload: unknown, max: number): string {
  const text = canonicalJson(payload ?? {});
  // one UTF-16 unit is at most three UTF-8 bytes, so a short text needs no byte count
  if (text.length * 3 <= max) return text;
  const bytes = Buffer.byteLength(text);
  if (bytes > max) throw new TooLarge(`the audit event's payload is ${bytes} bytes, more than the ${max} the log stores whole; it is not recorded and its action is denied`);
  return text;
}

export interface Encoded {
  rows: Row[];
  out: Array<{ core: EventCore; hash: string; payload: string }>;
  seq: number;
  lastHash: string;
}

/** Encode events after `seq`/`prev` (payloads already made), appending each hash to `frontier`. */
export function encodeEvents(events: Array<{ e: AuditEventInput; time: string }>, payloads: string[], seq: number, prev: string, frontier: CompactRange): Encoded {
  const rows: Row[] = [];
  const out: Encoded['out'] = [];
  const salts = randomBytes(16 * events.length).toString('hex');
  for (let i = 0; i < events.length; i++) {
    const { e, time } = events[i]!;
    const payload = payloads[i]!;
    const salt = salts.slice(i * 32, i * 32 + 32);
    seq++;
    const core: EventCore = { v: 1, seq, time, type: wellFormed(String(e.type || 'unknown')), payloadHash: sha256Hex(salt + payload), prev };
    const policies = e.policies?.map((p) => wellFormed(String(p)));
    const row: Row = [seq, time, core.type, str(e.agentId), str(e.runId), str(e.subject), str(e.action), str(e.resource), str(e.decision), str(e.tier), policies ? JSON.stringify(policies) : null, core.payloadHash, prev, '', salt, payload];
    if (row[3] !== null) core.agentId = row[3];
    if (row[4] !== null) core.runId = row[4];
    if (row[5] !== null) core.subject = row[5];
    if (row[6] !== null) core.action = row[6];
    if (row[7] !== null) core.resource = row[7];
    if (row[8] !== null) core.decision = row[8] as EventCore['decision'];
    if (row[9] !== null) core.tier = row[9] as EventCore['tier'];
    if (policies) core.policies = policies;
    const hash = eventHash(canonicalCore(core));
    row[13] = hash;
    frontier.append(Buffer.from(hash, 'hex'));
    rows.push(row);
    out.push({ core, hash, payload });
    prev = hash;
  }
  return { rows, out, seq, lastHash: prev };
}
