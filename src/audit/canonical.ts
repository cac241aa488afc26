/**
 * Canonical forms (RFC 8785, JSON Canonicalization Scheme). The event core has a fixed shape
 * (strings, integers, an array of strings), so it is serialized directly in sorted key order,
 * which yields exactly the RFC 8785 bytes; payloads are arbitrary JSON and go through `canonicalize`.
 */
import canonicalize from 'canonicalize';
import type { AuditEventInput } from '../pipeline/index.js';

/** What the chain hashes: the event as recorded (less its payload) plus its place in the chain. Absent fields are omitted, never null. */
export type EventCore = Omit<AuditEventInput, 'payload'> & {
  v: 1;
  seq: number;
  time: string;
  /** SHA-256 of the payload's salt and canonical form; the payload itself lives beside the chain. */
  payloadHash: string;
  /** Hash of the previous event (64 zeros before the first). */
  prev: string;
};

const KEYS = ['v', 'seq', 'time', 'type', 'agentId', 'runId', 'subject', 'action', 'resource', 'decision', 'tier', 'policies', 'payloadHash', 'prev'] as const;
/** RFC 8785 orders keys by their UTF-16 code units, which for these ASCII names is plain sort order. */
const SORTED = [...KEYS].sort();

export function canonicalCore(e: EventCore): string {
  let out = '{';
  let first = true;
  for (const k of SORTED) {
    const v = e[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}"${k}":`;
    first = false;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new Error(`audit event ${k} must be a safe integer`);
      out += String(v);
    } else if (typeof v === 'string') out += JSON.stringify(v);
    else out += `[${(v as string[]).map((s) => JSON.stringify(String(s))).join(',')}]`;
  }
  return `${out}}`;
}

/** RFC 8785 form of any JSON value; values JSON cannot carry are described instead of failing the write. */
export function canonicalJson(value: unknown): string {
  try {
    const s = canonicalize(value ?? null);
    if (s !== undefined) return s;
  } catch {
    /* fall through */
  }
  try {
    return canonicalize(JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null')) ?? 'null';
  } catch (e) {
    return canonicalize({ unserializable: (e as Error).message })!;
  }
}

/**
 * Columns of a stored event, in this order: seq, time, type, agent_id, run_id, subject, action,
 * resource, decision, tier, policies (JSON text), payload_hash, prev_hash.
 */
export type RawEventColumns = [number, string, string, string | null, string | null, string | null, string | null, string | null, string | null, string | null, string | null, string, string, ...unknown[]];

/** JSON.stringify of a string, without the call when nothing needs escaping (the usual case). */
const SAFE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const q = (s: string): string => (SAFE.test(s) ? `"${s}"` : JSON.stringify(s));

/**
 * The canonical core straight from stored columns (verification's hot path). The stored policies
 * text is used as is: the writer stores JSON.stringify of an array of strings, which is already
 * its RFC 8785 form, and any other bytes there change the hash, as they should.
 */
export function canonicalFromColumns(r: RawEventColumns): string {
  return fromColumns(r, '{');
}

/** A nullable column q() would copy as is. */
const plain = (s: string | null): boolean => s === null || SAFE.test(s);

/**
 * 0x00 and the canonical form: the RFC 6962 leaf input. When every quoted column is printable ASCII
 * other than `"` and `\` (the usual case; exactly the test q() makes of each), each is its own
 * JSON string body and the form is built in one template; otherwise column by column as above.
 */
export function leafInputFromColumns(r: RawEventColumns): string {
  const action = r[6];
  const agentId = r[3];
  const decision = r[8];
  const resource = r[7];
  const runId = r[4];
  const subject = r[5];
  const tier = r[9];
  const policies = r[10];
  if (!(plain(action) && plain(agentId) && plain(decision) && SAFE.test(r[11]) && SAFE.test(r[12]) && plain(resource) && plain(runId) && plain(subject) && plain(tier) && SAFE.test(r[1]) && SAFE.test(r[2]))) {
    return fromColumns(r, '\u0000{');
  }
  return `\u0000{${action !== null ? `"action":"${action}",` : ''}${agentId !== null ? `"agentId":"${agentId}",` : ''}${decision !== null ? `"decision":"${decision}",` : ''}"payloadHash":"${r[11]}",${policies !== null ? `"policies":${policies},` : ''}"prev":"${r[12]}",${resource !== null ? `"resource":"${resource}",` : ''}${runId !== null ? `"runId":"${runId}",` : ''}"seq":${r[0]},${subject !== null ? `"subject":"${subject}",` : ''}${tier !== null ? `"tier":"${tier}",` : ''}"time":"${r[1]}","type":"${r[2]}","v":1}`;
}

function fromColumns(r: RawEventColumns, open: string): string {
  let out = open;
  if (r[6] !== null) out += `"action":${q(r[6])},`;
  if (r[3] !== null) out += `"agentId":${q(r[3])},`;
  if (r[8] !== null) out += `"decision":${q(r[8])},`;
  out += `"payloadHash":${q(r[11])},`;
  if (r[10] !== null) out += `"policies":${r[10]},`;
  out += `"prev":${q(r[12])},`;
  if (r[7] !== null) out += `"resource":${q(r[7])},`;
  if (r[4] !== null) out += `"runId":${q(r[4])},`;
  out += `"seq":${r[0]},`;
  if (r[5] !== null) out += `"subject":${q(r[5])},`;
  if (r[9] !== null) out += `"tier":${q(r[9])},`;
  out += `"time":${q(r[1])},"type":${q(r[2])},"v":1}`;
  return out;
}
