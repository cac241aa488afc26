/**
 * Parsing of the Signature-Input and Signature fields (RFC 8941 dictionaries, via
 * structured-headers) into one signature's covered components, parameters and bytes.
 * Strict: anything that does not parse, or parses to the wrong types, is malformed_signature.
 */
import { type BareItem, type InnerList, type Item, isInnerList, parseDictionary, serializeInnerList, serializeItem } from 'structured-headers';
import { reject } from '../codes.js';

export interface SignatureParams {
  created?: number;
  expires?: number;
  nonce?: string;
  alg?: string;
  keyid?: string;
  tag?: string;
}

export interface ParsedSignature {
  label: string;
  /** The covered components as parsed (name + parameters), in order. */
  covered: Item[];
  /** Their serialized identifiers, e.g. `"@method"`, `"example-dict";key="a"`. */
  identifiers: string[];
  params: SignatureParams;
  /** The serialized inner list: the value of "@signature-params". */
  signatureParams: string;
  signature: Buffer;
}

const MAX_FIELD = 8192;
const MAX_COMPONENTS = 64;
/** Bounds what the replay cache holds per request. */
const MAX_PARAM = 256;

function dictionary(name: string, value: string) {
  if (value.length > MAX_FIELD) throw reject('malformed_signature', `${name} is longer than ${MAX_FIELD} characters`);
  try {
    return parseDictionary(value);
  } catch (e) {
    throw reject('malformed_signature', `${name} is not a valid structured dictionary (RFC 8941): ${(e as Error).message}`);
  }
}

const INT_PARAMS = new Set(['created', 'expires']);
const STRING_PARAMS = new Set(['nonce', 'alg', 'keyid', 'tag']);

function params(label: string, p: Map<string, BareItem>): SignatureParams {
  const out: SignatureParams = {};
  for (const [k, v] of p) {
    if (INT_PARAMS.has(k)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw reject('malformed_signature', `signature ${label}: parameter ${k} must be a non-negative integer`);
      out[k as 'created' | 'expires'] = v;
    } else if (STRING_PARAMS.has(k)) {
      if (typeof v !== 'string') throw reject('malformed_signature', `signature ${label}: parameter ${k} must be a string`);
      if (v.length > MAX_PARAM) throw reject('malformed_signature', `signature ${label}: parameter ${k} is longer than ${MAX_PARAM} characters`);
      out[k as 'nonce' | 'alg' | 'keyid' | 'tag'] = v;
    }
    // Other parameters are covered through @signature-params but carry no meaning here.
  }
  if (out.created !== undefined && out.expires !== undefined && out.expires < out.created) throw reject('malformed_signature', `signature ${label}: expires is before created`);
  return out;
}

const escapeKey = (key: string) => key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const patterns = new Map<string, { member: RegExp; bytes: RegExp }>();
function patternsFor(key: string): { member: RegExp; bytes: RegExp } {
  let p = patterns.get(key);
  if (!p) {
    const k = escapeKey(key);
    p = { member: new RegExp(`(?:^|,)[ \\t]*${k}(?=[ \\t]*(?:[=;,]|$))`, 'g'), bytes: new RegExp(`(?:^|,)[ \\t]*${k}=:([A-Za-z0-9+/=]*):`) };
    if (patterns.size > 64) patterns.clear();
    patterns.set(key, p);
  }
  return p;
}

/** How many times `key` starts a member of a raw dictionary (duplicates are refused: parsers disagree on them). */
function memberCount(raw: string, key: string): number {
  const re = patternsFor(key).member;
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(raw)) n++;
  return n;
}

/** The base64 text of member `key` of a raw dictionary, when it is a byte sequence. */
function rawByteSequence(raw: string, key: string): string | undefined {
  return patternsFor(key).bytes.exec(raw)?.[1];
}

/** RFC 8941 serialization of a component identifier; the common parameterless case without the library. */
function identifier(it: Item): string {
  const name = it[0] as string;
  if (it[1].size === 0 && PLAIN_STRING.test(name)) return `"${name}"`;
  return serializeItem(it);
}
/** Printable ASCII without DQUOTE or backslash: serialized as itself between quotes. */
const PLAIN_CHARS = '[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*';
const PLAIN_STRING = new RegExp(`^${PLAIN_CHARS}$`);

/**
 * One signature from the two fields: `label` if given, else the first member of Signature-Input.
 * The signature bytes must be canonical base64 (no stray pad bits, padding present), so no two
 * different field values verify as the same signature.
 */
export function parseSignatureFields(signatureInput: string, signature: string, label?: string): ParsedSignature {
  return canonicalSignature(signatureInput, signature, label) ?? parseSignatureFieldsGeneral(signatureInput, signature, label);
}

// The form signers emit: one member, plain quoted component names, integer and plain-string
// parameters, canonical base64. Read without the general parser; anything else goes to it.
const KEY = '[a-z*][a-z0-9_\\-.*]*';
const PLAIN = `"${PLAIN_CHARS}"`;
const CANONICAL_INPUT = new RegExp(`^(${KEY})=(\\(((?:${PLAIN}(?: ${PLAIN})*)?)\\)((?:;${KEY}=(?:0|[1-9][0-9]{0,14}|${PLAIN}))*))$`);
const CANONICAL_SIGNATURE = new RegExp(`^(${KEY})=:([A-Za-z0-9+/]*={0,2}):$`);
const COMPONENT = /"([^"]*)"/g;
const PARAM = new RegExp(`;(${KEY})=(?:([0-9]+)|"([^"]*)")`, 'g');

/**
 * The parse of a canonical single-member pair, exactly as the general parser would give it
 * (the identifiers and "@signature-params" are the text as sent, which for this form is its
 * serialization); undefined when the fields are not in that form.
 */
export function canonicalSignature(signatureInput: string, signature: string, label?: string): ParsedSignature | undefined {
  if (signatureInput.length > MAX_FIELD || signature.length > MAX_FIELD) return undefined;
  const m = CANONICAL_INPUT.exec(signatureInput);
  const sm = m ? CANONICAL_SIGNATURE.exec(signature) : null;
  if (!m || !sm || sm[1] !== m[1] || (label !== undefined && label !== m[1])) return undefined;
  const b64 = sm[2]!;
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.toString('base64') !== b64) return undefined;
  const covered: Item[] = [];
  const identifiers: string[] = [];
  for (const c of m[3]!.matchAll(COMPONENT)) {
    const id = c[0];
    if (identifiers.includes(id) || identifiers.length >= MAX_COMPONENTS) return undefined;
    identifiers.push(id);
    covered.push([c[1]!, new Map()]);
  }
  const p = new Map<string, BareItem>();
  for (const q of m[4]!.matchAll(PARAM)) {
    if (p.has(q[1]!)) return undefined;
    p.set(q[1]!, q[2] !== undefined ? Number(q[2]) : q[3]!);
  }
  return { label: m[1]!, covered, identifiers, params: params(m[1]!, p), signatureParams: m[2]!, signature: bytes };
}

/** The general path: RFC 8941 parsing of both fields by structured-headers. */
export function parseSignatureFieldsGeneral(signatureInput: string, signature: string, label?: string): ParsedSignature {
  const inputs = dictionary('Signature-Input', signatureInput);
  const sigs = dictionary('Signature', signature);
  const chosen = label ?? inputs.keys().next().value;
  if (chosen === undefined) throw reject('malformed_signature', 'Signature-Input has no members');
  const member = inputs.get(chosen);
  if (member === undefined) throw reject('malformed_signature', `Signature-Input has no signature labelled ${JSON.stringify(chosen)}`);
  if (!isInnerList(member)) throw reject('malformed_signature', `Signature-Input member ${chosen} must be an inner list of components`);
  if (memberCount(signatureInput, chosen) > 1 || memberCount(signature, chosen) > 1) throw reject('malformed_signature', `signature ${chosen} appears more than once in Signature-Input or Signature`);
  const sig = sigs.get(chosen);
  if (sig === undefined) throw reject('malformed_signature', `Signature has no member ${JSON.stringify(chosen)} matching Signature-Input`);
  if (isInnerList(sig) || !(sig[0] instanceof ArrayBuffer)) throw reject('malformed_signature', `Signature member ${chosen} must be a byte sequence (:base64:)`);
  const bytes = Buffer.from(sig[0]);
  if (rawByteSequence(signature, chosen) !== bytes.toString('base64')) throw reject('malformed_signature', `Signature member ${chosen} is not canonical base64`);
  const [items, p] = member as InnerList;
  if (items.length > MAX_COMPONENTS) throw reject('malformed_signature', `signature ${chosen} covers more than ${MAX_COMPONENTS} components`);
  const identifiers: string[] = [];
  for (const it of items) {
    if (typeof it[0] !== 'string') throw reject('malformed_signature', `signature ${chosen}: covered components must be strings`);
    const id = identifier(it);
    if (identifiers.includes(id)) throw reject('malformed_signature', `signature ${chosen} covers ${id} twice`);
    identifiers.push(id);
  }
  return { label: chosen, covered: items, identifiers, params: params(chosen, p), signatureParams: serializeInnerList(member), signature: bytes };
}
