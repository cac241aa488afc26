/**
 * Component values of RFC 9421 §2 for requests: derived components (@method, @target-uri,
 * @authority, @scheme, @request-target, @path, @query, @query-param) and header fields with
 * their `sf`, `key` and `bs` parameters. No normalisation beyond what the RFC prescribes, so
 * what is verified is exactly what was sent.
 */
import { type BareItem, type Item, isInnerList, parseDictionary, parseItem, parseList, serializeDictionary, serializeInnerList, serializeItem, serializeList } from 'structured-headers';
import { reject } from '../codes.js';
import { fieldValues, type SignedRequest } from './message.js';

export interface TargetParts {
  scheme: string;
  authority: string;
  path: string;
  /** Without the leading "?"; undefined when the URI has no query. */
  query: string | undefined;
}

const URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/;

export function splitTarget(uri: string): TargetParts {
  const m = URI.exec(uri);
  if (!m) throw reject('malformed_signature', `the target URI ${JSON.stringify(uri.slice(0, 200))} is not absolute`);
  return { scheme: m[1]!, authority: m[2]!, path: m[3]!, query: m[4] };
}

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

/** @authority: host lowercased, default port removed (RFC 9421 §2.2.3). */
export function normalizeAuthority(authority: string, scheme: string): string {
  let a = authority.toLowerCase();
  const port = DEFAULT_PORT[scheme.toLowerCase()];
  if (port && a.endsWith(`:${port}`) && !a.endsWith(']')) a = a.slice(0, -(port.length + 1));
  return a;
}

/** Percent-encode with the application/x-www-form-urlencoded set (space as %20). */
function formEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9*\-._]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function queryParamValue(query: string | undefined, name: string): string {
  const found: string[] = [];
  for (const [k, v] of new URLSearchParams(query ?? '')) if (formEncode(k) === name) found.push(formEncode(v));
  if (found.length === 0) throw reject('missing_component', `"@query-param";name=${JSON.stringify(name)} is covered but the query has no such parameter`);
  if (found.length > 1) throw reject('malformed_signature', `"@query-param";name=${JSON.stringify(name)} occurs ${found.length} times in the query; cover @query instead`);
  return found[0]!;
}

/** Structured fields whose type is known; others are tried as dictionary, list, then item. */
const SF_TYPES: Record<string, 'dictionary' | 'list' | 'item'> = {
  'content-digest': 'dictionary',
  'repr-digest': 'dictionary',
  'want-content-digest': 'dictionary',
  'want-repr-digest': 'dictionary',
  'signature-input': 'dictionary',
  signature: 'dictionary',
  'accept-signature': 'dictionary',
  priority: 'dictionary',
  'cache-status': 'list',
  'proxy-status': 'list',
};

function strictSerialize(name: string, value: string): string {
  const type = SF_TYPES[name];
  const tries: Array<() => string> = [];
  if (!type || type === 'dictionary') tries.push(() => serializeDictionary(parseDictionary(value)));
  if (!type || type === 'list') tries.push(() => serializeList(parseList(value)));
  if (!type || type === 'item') tries.push(() => serializeItem(parseItem(value)));
  for (const t of tries) {
    try {
      return t();
    } catch {
      /* next type */
    }
  }
  throw reject('malformed_signature', `"${name}";sf is covered but the field is not a valid structured field`);
}

function dictionaryMember(name: string, value: string, key: string): string {
  let dict;
  try {
    dict = parseDictionary(value);
  } catch {
    throw reject('malformed_signature', `"${name}";key=${JSON.stringify(key)} is covered but the field is not a structured dictionary`);
  }
  const m = dict.get(key);
  if (m === undefined) throw reject('missing_component', `"${name}";key=${JSON.stringify(key)} is covered but the dictionary has no member ${JSON.stringify(key)}`);
  return isInnerList(m) ? serializeInnerList(m) : serializeItem(m);
}

const COMPONENT_PARAMS = new Set(['sf', 'key', 'bs', 'req', 'tr', 'name']);

/** The value of one covered component of a request. Throws missing_component / malformed_signature. */
export function componentValue(msg: SignedRequest, target: TargetParts, item: Item): string {
  const [name, params] = item as [BareItem, Map<string, BareItem>];
  if (typeof name !== 'string') throw reject('malformed_signature', 'covered components must be strings');
  for (const p of params.keys()) if (!COMPONENT_PARAMS.has(p)) throw reject('malformed_signature', `component ${JSON.stringify(name)} has unknown parameter ";${p}"`);
  if (params.has('req')) throw reject('malformed_signature', `component ${JSON.stringify(name)} has ";req", which only applies to responses`);
  if (params.has('tr')) throw reject('malformed_signature', `component ${JSON.stringify(name)} has ";tr": trailers are not supported`);
  if (name.startsWith('@')) {
    if (params.has('name') !== (name === '@query-param')) throw reject('malformed_signature', name === '@query-param' ? '"@query-param" needs a ;name parameter' : `${name} takes no ;name parameter`);
    if (params.has('sf') || params.has('key') || params.has('bs')) throw reject('malformed_signature', `derived component ${name} takes no ;sf, ;key or ;bs`);
    switch (name) {
      case '@method':
        return msg.method;
      case '@target-uri':
        return msg.targetUri;
      case '@authority':
        return normalizeAuthority(target.authority, target.scheme);
      case '@scheme':
        return target.scheme.toLowerCase();
      case '@request-target':
        return target.path + (target.query !== undefined ? `?${target.query}` : '');
      case '@path':
        return target.path === '' ? '/' : target.path;
      case '@query':
        return `?${target.query ?? ''}`;
      case '@query-param': {
        const n = params.get('name');
        if (typeof n !== 'string') throw reject('malformed_signature', '"@query-param";name must be a string');
        return queryParamValue(target.query, n);
      }
      case '@status':
        throw reject('malformed_signature', '"@status" only exists in responses');
      case '@signature-params':
        throw reject('malformed_signature', '"@signature-params" cannot be a covered component');
      default:
        throw reject('malformed_signature', `unknown derived component ${JSON.stringify(name)}`);
    }
  }
  if (params.has('name')) throw reject('malformed_signature', `field ${JSON.stringify(name)} takes no ;name parameter`);
  if (name === '' || name !== name.toLowerCase() || !/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) throw reject('malformed_signature', `component name ${JSON.stringify(name)} must be a lowercase field name`);
  const lines = fieldValues(msg.headers, name);
  if (lines.length === 0) throw reject('missing_component', `the signature covers the field "${name}", which the request does not have`);
  const bs = params.get('bs') === true;
  const key = params.get('key');
  const sf = params.get('sf') === true || key !== undefined;
  if (bs && sf) throw reject('malformed_signature', `"${name}" cannot have both ;bs and ;sf/;key`);
  if (bs) return lines.map((l) => `:${Buffer.from(l, 'utf8').toString('base64')}:`).join(', ');
  const combined = lines.join(', ');
  if (key !== undefined) {
    if (typeof key !== 'string') throw reject('malformed_signature', `"${name}";key must be a string`);
    return dictionaryMember(name, combined, key);
  }
  if (sf) return strictSerialize(name, combined);
  return combined;
}
