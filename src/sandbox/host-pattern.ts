/**
 * One host pattern: what a config entry naming a destination means, and whether a URL is one.
 *
 * Forms: `host`, `host:port`, `scheme://host[:port]` (http or https, an optional trailing "/"),
 * `*.domain` in any of those (every subdomain at any depth, never the apex; `.domain` is the same),
 * IPv6 literals in brackets (`[::1]`, `[::1]:8080`; a bare `::1` is a host without a port), and,
 * where the caller allows them, `*` (every host) and CIDRs (`10.0.0.0/8`, `10.0.0.0/8:8080`,
 * `[fd00::]/8:8080`). Hosts are canonicalised exactly as the WHATWG URL parser canonicalises a URL's
 * host (lowercase, IDNA to punycode, IPv4 numeric forms to dotted decimal, IPv6 compressed), with
 * one trailing dot removed on both sides, so a pattern means what the URL parser will see.
 *
 * What a bare host means depends on the use. A secret binding (`defaults: 'origin'`) is https on
 * 443 unless the entry names another scheme or port: a secret never travels in plain text or to
 * another service on the same host by accident. A destination list (`defaults: 'any'`) is any
 * scheme and any port unless the entry names one.
 */
import ipaddr from 'ipaddr.js';
import { inCidr, type Cidr } from './host-classify.js';

export type Scheme = 'http' | 'https';

export interface HostPattern {
  /** The entry as written. */
  entry: string;
  kind: 'exact' | 'wildcard' | 'any' | 'cidr';
  /** Canonical host (exact), the domain below the wildcard (wildcard), '' (any, cidr). IPv6 in brackets. */
  host: string;
  /** Undefined: any scheme. */
  scheme: Scheme | undefined;
  /** Undefined: any port. */
  port: number | undefined;
  /** An exact pattern naming an address, or a CIDR: matched against the resolved address too. */
  cidr: Cidr | undefined;
}

export interface HostPatternOptions {
  /** 'origin': a bare host is https on 443 (secret bindings). 'any': any scheme and port (destination lists). */
  defaults: 'origin' | 'any';
  /** Accept `*` (every host). */
  star?: boolean;
  /** Accept CIDR ranges. */
  cidr?: boolean;
}

/** Where a request goes, in the URL parser's canonical terms. */
export interface Target {
  scheme: Scheme;
  /** URL hostname without one trailing dot (IPv6 in brackets). */
  host: string;
  port: number;
  /** The address the connection goes to, when known (allowPrivate decides on it). */
  address?: string;
}

export type ParsedHostPattern = { ok: true; pattern: HostPattern } | { ok: false; error: string };

const DEFAULT_PORT: Record<Scheme, number> = { http: 80, https: 443 };

/** The three uses and how each reads an entry. */
export const SECRET_BINDING: HostPatternOptions = { defaults: 'origin' };
export const DESTINATION_LIST: HostPatternOptions = { defaults: 'any', star: true };
export const PRIVATE_LIST: HostPatternOptions = { defaults: 'any', cidr: true };

/** The URL parser's host, one trailing dot removed. */
export function canonicalHost(hostname: string): string {
  const h = hostname.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The target of an http(s) URL; undefined for any other scheme. */
export function targetOf(url: URL, address?: string): Target | undefined {
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : undefined;
  if (!scheme) return undefined;
  return { scheme, host: canonicalHost(url.hostname), port: url.port ? Number(url.port) : DEFAULT_PORT[scheme], ...(address !== undefined ? { address } : {}) };
}

const fail = (error: string): ParsedHostPattern => ({ ok: false, error });

function parsePort(s: string): number | string {
  if (!/^\d{1,5}$/.test(s)) return `port ${JSON.stringify(s)} is not a number`;
  const n = Number(s);
  if (n < 1 || n > 65535) return `port ${n} is outside 1-65535`;
  return n;
}

/** The URL parser's canonical form of a host (no port), or an error. */
function canonical(host: string): { host: string; ip: boolean } | string {
  if (!host) return 'the host is empty';
  // Characters the URL parser would read as the end of the host (or as a path: "\" in http URLs).
  if (/[/?#@\\\s]/.test(host)) return `the host ${JSON.stringify(host)} contains a character that cannot be part of a host name`;
  let h: string;
  try {
    h = new URL(`http://${host}/`).hostname;
  } catch {
    return `${JSON.stringify(host)} is not a valid host name`;
  }
  h = canonicalHost(h);
  if (!h) return `${JSON.stringify(host)} is not a valid host name`;
  const bare = h.startsWith('[') ? h.slice(1, -1) : h;
  return { host: h, ip: h.startsWith('[') || ipaddr.IPv4.isValidFourPartDecimal(bare) };
}

function parseCidrEntry(e: string, o: HostPatternOptions): ParsedHostPattern | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9A-Fa-f:.]+))\/(\d{1,3})(?::(\d+))?$/.exec(e);
  if (!m) return undefined;
  const addr = m[1] ?? m[2]!;
  if (!o.cidr) return fail('a CIDR range is not accepted here; name a host');
  if (!ipaddr.IPv4.isValidFourPartDecimal(addr) && !ipaddr.IPv6.isValid(addr)) return fail(`${JSON.stringify(addr)} is not an IP address (CIDRs take dotted-decimal IPv4 or IPv6)`);
  let cidr: Cidr;
  try {
    cidr = ipaddr.parseCIDR(`${addr}/${m[3]}`);
  } catch {
    return fail(`prefix length /${m[3]} is too long for ${addr}`);
  }
  let port: number | undefined;
  if (m[4] !== undefined) {
    const p = parsePort(m[4]);
    if (typeof p === 'string') return fail(p);
    port = p;
  }
  return { ok: true, pattern: { entry: e, kind: 'cidr', host: '', scheme: undefined, port, cidr } };
}

/** Parses one entry; the error says what is wrong with it, for `config check`. */
export function parseHostPattern(entry: string, o: HostPatternOptions): ParsedHostPattern {
  if (typeof entry !== 'string') return fail('expected a string');
  const e = entry.trim();
  if (!e) return fail('the entry is empty');
  if (e === '*') {
    if (!o.star) return fail('"*" (every host) is not accepted here; name the hosts');
    return { ok: true, pattern: { entry, kind: 'any', host: '', scheme: undefined, port: undefined, cidr: undefined } };
  }
  let rest = e;
  let scheme: Scheme | undefined;
  const sm = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(e);
  if (sm) {
    const s = sm[1]!.toLowerCase();
    if (s !== 'http' && s !== 'https') return fail(`scheme "${s}" is not http or https`);
    scheme = s;
    rest = e.slice(sm[0].length);
    if (rest.endsWith('/')) rest = rest.slice(0, -1);
    if (/[/?#]/.test(rest)) return fail('an origin names scheme, host and port only, not a path, query or fragment');
    if (rest.includes('@')) return fail('an origin cannot carry user information (user@host)');
  } else {
    const c = parseCidrEntry(e, o);
    if (c) return c;
    if (e.includes('/')) return fail(o.cidr ? 'expected a host, host:port, scheme://host:port or a CIDR such as 10.0.0.0/8' : 'expected a host, host:port or scheme://host:port (no path)');
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return fail('an IPv6 address opened with "[" is not closed with "]"');
    host = rest.slice(0, close + 1);
    const after = rest.slice(close + 1);
    if (after.startsWith(':')) portText = after.slice(1);
    else if (after) return fail(`unexpected ${JSON.stringify(after)} after the IPv6 address`);
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) [host, portText] = rest.split(':') as [string, string];
    else if (colons === 0) host = rest;
    else if (scheme) return fail('an IPv6 address in an origin needs brackets: scheme://[::1]:8080');
    else host = `[${rest}]`; // a bare IPv6 literal, no port
  }
  let port: number | undefined;
  if (portText !== undefined) {
    const p = parsePort(portText);
    if (typeof p === 'string') return fail(p);
    port = p;
  }
  let kind: 'exact' | 'wildcard' = 'exact';
  if (host.startsWith('*.')) {
    kind = 'wildcard';
    host = host.slice(2);
  } else if (host.startsWith('.')) {
    kind = 'wildcard';
    host = host.slice(1);
  }
  if (host.includes('*')) return fail('"*" may only stand alone or as the whole first label ("*.example.com")');
  const c = canonical(host);
  if (typeof c === 'string') return fail(c);
  if (kind === 'wildcard' && c.ip) return fail('a wildcard needs a domain name, not an address');
  if (o.defaults === 'origin') scheme ??= 'https';
  if (port === undefined && scheme !== undefined) port = DEFAULT_PORT[scheme];
  let cidr: Cidr | undefined;
  if (c.ip) {
    const ip = ipaddr.parse(c.host.replace(/^\[|\]$/g, ''));
    cidr = [ip, ip.kind() === 'ipv4' ? 32 : 128];
  }
  return { ok: true, pattern: { entry, kind, host: c.host, scheme, port, cidr } };
}

/**
 * Whether `t` is a destination `p` names. An address pattern (exact IP or CIDR) also matches a
 * target whose resolved address it covers; a name pattern matches the URL's host only.
 */
export function hostPatternMatches(p: HostPattern, t: Target): boolean {
  if (p.scheme !== undefined && p.scheme !== t.scheme) return false;
  if (p.port !== undefined && p.port !== t.port) return false;
  switch (p.kind) {
    case 'any':
      return true;
    case 'exact':
      return t.host === p.host || (p.cidr !== undefined && t.address !== undefined && inCidr(t.address, p.cidr));
    case 'wildcard':
      return t.host.length > p.host.length + 1 && t.host.endsWith(p.host) && t.host[t.host.length - p.host.length - 1] === '.';
    case 'cidr':
      return inCidr(t.address ?? t.host, p.cidr!);
  }
}

/** Parses a list, keeping the parsable entries (config check has refused the others already). */
export function parseHostPatterns(entries: readonly string[], o: HostPatternOptions): HostPattern[] {
  const out: HostPattern[] = [];
  for (const e of entries) {
    const r = parseHostPattern(e, o);
    if (r.ok) out.push(r.pattern);
  }
  return out;
}

/** The first problem in a list, as `[index]: message`, for the config schema. */
export function hostPatternProblems(entries: readonly string[], o: HostPatternOptions): Array<{ index: number; message: string }> {
  const out: Array<{ index: number; message: string }> = [];
  entries.forEach((e, index) => {
    const r = parseHostPattern(e, o);
    if (!r.ok) out.push({ index, message: `${JSON.stringify(e)} cannot be used: ${r.error}` });
  });
  return out;
}

/** The Cedar-side host of a pattern (context.host is the URL's hostname): `*`, `*.domain` or the host. */
export function policyHostOf(p: HostPattern): string {
  return p.kind === 'any' ? '*' : p.kind === 'wildcard' ? `*.${p.host}` : p.host;
}
