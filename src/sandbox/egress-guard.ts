/**
 * Egress guard: every outbound HTTP(S) request of a tool goes through here.
 * parse (WHATWG) → scheme → domain lists → resolve once → classify every address → connect to the
 * pinned address (our own connector; undici never resolves) → follow redirects ourselves, each hop
 * re-checked, bounded → undo the body's codings (content-decoding.ts) → cap decoded size and time →
 * log host, address, bytes, decision.
 *
 * The caller does not choose how the body is encoded: it asks for identity, never for a range of a
 * response carrying an injected credential, never for a charset; whatever coding a server applies
 * anyway is undone here (or the response refused), so what the caller checks is what it gets.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, request } from 'undici';
import { ClawguardError } from '../errors/index.js';
import { codingsOf, readDecoded, type Coding } from './content-decoding.js';
import { OPENABLE, classifyAddress, type AddressClass } from './host-classify.js';
import { DomainRules } from './domain-rules.js';
import { DESTINATION_LIST, hostPatternMatches, parseHostPatterns, PRIVATE_LIST, targetOf, type Target } from './host-pattern.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface EgressLogEntry {
  ts: string;
  url: string;
  host: string;
  port: number;
  address?: string;
  decision: 'allow' | 'deny';
  reason?: string;
  method?: string;
  status?: number;
  bytes?: number;
  truncated?: boolean;
  durationMs?: number;
  /** 0 for the first request, n for the n-th redirect. */
  hop: number;
  error?: string;
}

export interface EgressGuardOptions {
  allowedDomains: string[];
  blockedDomains: string[];
  /** Host patterns (names, addresses, CIDRs, optionally with a port or scheme) that may be loopback/private/link-local (a local model server). */
  allowPrivate?: string[];
  /** Injectable resolver (tests); default dns.lookup(all, verbatim). Called once per hop. */
  lookup?: Resolver;
  maxRedirects?: number;
  maxResponseBytes?: number;
  timeoutMs?: number;
  onLog?: (entry: EgressLogEntry) => void;
  /** Extra trust anchors (private CA, tests). */
  tls?: { ca?: string | Buffer | Array<string | Buffer> };
}

export interface CheckedUrl {
  url: string;
  host: string;
  port: number;
  addresses: ResolvedAddress[];
  /** The one address a connection will go to. */
  pinned: ResolvedAddress;
}

export interface HopInfo {
  hop: number;
  previousUrl?: string;
  crossOrigin: boolean;
  /** Headers this hop will carry so far (credentials already dropped if cross-origin). */
  headers: Record<string, string>;
}

export interface EgressFetchOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Re-decide per hop (secrets broker): returned headers are added to this hop only. */
  beforeHop?: (url: string, info: HopInfo) => Record<string, string> | void | Promise<Record<string, string> | void>;
  maxResponseBytes?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * This call only: the destinations it may reach, in place of the guard's allowedDomains (a model
   * call goes to its provider's origin and nowhere else). blockedDomains and allowPrivate still apply.
   */
  allowedDomains?: string[];
  /** This call only: patterns added to the guard's allowPrivate (a provider configured as local). */
  allowPrivate?: string[];
  /** false: a redirect is returned as the response, not followed (default true, each hop re-checked). */
  followRedirects?: boolean;
}

export interface EgressResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  truncated: boolean;
  finalUrl: string;
  address: string;
  redirects: string[];
  /** Codings the server applied and the guard undid (content-encoding, content-length and transfer-encoding are then dropped from headers). */
  decoded: Coding[];
}

export interface EgressGuard {
  /** `scope`: check as a fetch with these call-scoped lists would (a model call checks before its key is fetched). */
  check(url: string, scope?: Pick<EgressFetchOptions, 'allowedDomains' | 'allowPrivate' | 'signal'>): Promise<CheckedUrl>;
  fetch(url: string, opts?: EgressFetchOptions): Promise<EgressResponse>;
  close(): Promise<void>;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that survive a cross-origin redirect; everything else may carry a credential. */
const CROSS_ORIGIN_SAFE = new Set(['accept', 'accept-language', 'user-agent', 'cache-control', 'pragma', 'content-type', 'content-language']);
/**
 * Headers the caller never sets: hop-by-hop or framing (undici refuses some; Host must match the URL),
 * and the negotiation of how the body is encoded (the guard asks for identity itself; a charset the
 * caller picks, such as UTF-16, would hide a value from the redactor).
 */
const FORBIDDEN_HEADERS = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection', 'content-length', 'expect', 'accept-encoding', 'accept-charset']);
/** Dropped from a hop that carries an injected credential: a partial response would show a value cut where the caller chose. */
const RANGE_HEADERS = ['range', 'if-range'];

/** A URL for a message: whole (it passes the redactor whole), or only its length when very long. Never cut: a cut could end inside a secret. */
function quote(s: string): string {
  return s.length <= 2048 ? JSON.stringify(s) : `a ${s.length}-character URL`;
}

/** Headers that describe the encoded body, not the decoded one handed on (the encoded length would also measure the compressed size of what the body holds). */
const DECODED_AWAY = new Set(['content-encoding', 'content-length', 'transfer-encoding']);

function blocked(url: string, host: string, reason: string, why: string): ClawguardError {
  return new ClawguardError('host_blocked', `egress to ${host ? `host "${host}"` : quote(url)} is blocked: ${why}`, { details: { url, host, reason } });
}

export function createEgressGuard(opts: EgressGuardOptions): EgressGuard {
  const rules = new DomainRules(opts.allowedDomains, opts.blockedDomains);
  // No "*": it would silently disable SSRF protection.
  const privateRules = parseHostPatterns(opts.allowPrivate ?? [], PRIVATE_LIST);
  const resolver: Resolver = opts.lookup ?? ((h) => dnsLookup(h, { all: true, verbatim: true }));
  const maxRedirects = opts.maxRedirects ?? 5;
  const maxResponseBytes = opts.maxResponseBytes ?? 10 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const log = (e: Omit<EgressLogEntry, 'ts'>) => {
    try {
      opts.onLog?.({ ts: new Date().toISOString(), ...e });
    } catch {
      /* a failing logger must not turn a decision around */
    }
  };

  const privateAllowed = (t: Target, address: string) => privateRules.some((p) => hostPatternMatches(p, { ...t, address }));

  // One connection pool per checked address: its connector dials that address and nothing else,
  // whatever host name undici hands it (Host header, SNI and certificate name stay the URL's host).
  // Keyed by address, a pooled socket can only ever be reused for the address a check just approved.
  const base = buildConnector({ ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}), timeout: Math.min(timeoutMs, 10_000) });
  const agents = new Map<string, Agent>();
  const agentFor = (address: string): Agent => {
    let a = agents.get(address);
    if (a) {
      agents.delete(address); // re-insert: most recently used last
      agents.set(address, a);
      return a;
    }
    a = new Agent({ connect: (o, cb) => base({ ...o, hostname: address }, cb) });
    agents.set(address, a);
    if (agents.size > 64) {
      const [oldest, old] = agents.entries().next().value as [string, Agent];
      agents.delete(oldest);
      void old.close().catch(() => undefined); // waits for its in-flight requests
    }
    return a;
  };

  /** The lists one request is checked against: the guard's own, or those a call narrows (see EgressFetchOptions). */
  interface CallRules {
    rules: DomainRules;
    privateAllowed: (t: Target, address: string) => boolean;
    /** A call's own allow list is exhaustive: an allowPrivate literal does not stand in for it. */
    narrowed: boolean;
  }
  const guardRules: CallRules = { rules, privateAllowed, narrowed: false };
  const callRules = (fo: EgressFetchOptions): CallRules => {
    if (fo.allowedDomains === undefined && fo.allowPrivate === undefined) return guardRules;
    // An empty (or unparsable) list narrows to nowhere: DomainRules would read it, beside a block list, as "anywhere not blocked".
    const narrowed = fo.allowedDomains;
    const usable = narrowed !== undefined && narrowed.length > 0 && parseHostPatterns(narrowed, DESTINATION_LIST).length === narrowed.length;
    const r = narrowed === undefined ? rules : usable ? new DomainRules(narrowed, opts.blockedDomains) : new DomainRules([], []);
    const extra = parseHostPatterns(fo.allowPrivate ?? [], PRIVATE_LIST);
    return { rules: r, narrowed: narrowed !== undefined, privateAllowed: (t, address) => privateAllowed(t, address) || extra.some((p) => hostPatternMatches(p, { ...t, address })) };
  };

  async function checkInner(raw: string, signal?: AbortSignal, { rules, privateAllowed, narrowed }: CallRules = guardRules): Promise<CheckedUrl> {
    if (typeof raw !== 'string' || raw.length === 0) throw new ClawguardError('bad_request', 'url must be a non-empty string');
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ClawguardError('bad_request', `URL ${quote(raw)} is not a valid absolute URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw blocked(raw, '', 'scheme', `scheme "${u.protocol.replace(/:$/, '')}" is not allowed (http and https only)`);
    }
    if (u.username || u.password) throw new ClawguardError('bad_request', `URL ${quote(raw)} embeds credentials (user:password@); send them as headers`);
    const host = u.hostname;
    if (!host) throw new ClawguardError('bad_request', `URL ${quote(raw)} has no host`);
    const bare = host.replace(/^\[|\]$/g, '');
    const name = bare.replace(/\.$/, '');
    const isIp = ipaddr.IPv4.isValidFourPartDecimal(bare) || (host.startsWith('[') && ipaddr.IPv6.isValid(bare));
    const target = targetOf(u)!;
    const port = target.port;

    const d = rules.decide(target);
    if (!d.ok) {
      // An address literal inside an explicit allowPrivate entry is allowed by name too (e.g. 127.0.0.1:11434),
      // unless a blockedDomains entry names it.
      if (!(isIp && !narrowed && !rules.isBlocked(target) && privateAllowed(target, bare))) throw blocked(raw, host, 'domain', `${d.reason}`);
    }

    let addrs: ResolvedAddress[];
    if (isIp) {
      addrs = [{ address: bare, family: bare.includes(':') ? 6 : 4 }];
    } else {
      let res: Array<{ address: string; family: number }>;
      try {
        const p = resolver(name);
        res = signal ? await raceAbort(p, signal) : await p;
      } catch (e) {
        if (e instanceof ClawguardError) throw e;
        throw new ClawguardError('not_found', `host "${host}" does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { details: { host } });
      }
      if (!Array.isArray(res) || res.length === 0) throw new ClawguardError('not_found', `host "${host}" resolved to no address`, { details: { host } });
      addrs = res.map((r) => ({ address: String(r.address), family: String(r.address).includes(':') ? 6 : 4 }));
    }
    // Every address must pass, not just the first: a mixed answer is an attack, not a fallback.
    for (const a of addrs) {
      const cls: AddressClass = classifyAddress(a.address);
      if (cls === 'public') continue;
      if (OPENABLE.has(cls) && privateAllowed(target, a.address)) continue;
      const why =
        cls === 'metadata' ? 'it is a cloud metadata endpoint'
        : OPENABLE.has(cls) ? `${cls} addresses are reachable only when listed in allowPrivate`
        : `${cls} addresses are never reachable`;
      throw blocked(raw, host, cls, `${isIp ? 'address' : `it resolves to`} ${a.address} (${cls}); ${why}`);
    }
    const pinned = addrs[0]!;
    return { url: u.href, host, port, addresses: addrs, pinned };
  }

  async function check(raw: string, scope: Pick<EgressFetchOptions, 'allowedDomains' | 'allowPrivate' | 'signal'> = {}): Promise<CheckedUrl> {
    try {
      const c = await checkInner(raw, scope.signal, callRules(scope));
      log({ url: c.url, host: c.host, port: c.port, address: c.pinned.address, decision: 'allow', hop: 0 });
      return c;
    } catch (e) {
      logDeny(raw, e, 0);
      throw e;
    }
  }

  function logDeny(raw: string, e: unknown, hop: number): void {
    const det = (e as ClawguardError).details as { host?: string; reason?: string } | undefined;
    let host = det?.host ?? '';
    let port = 0;
    try {
      const u = new URL(raw);
      host ||= u.hostname;
      port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    } catch {
      /* unparsable URL: logged as is */
    }
    log({ url: raw, host, port, decision: 'deny', reason: det?.reason ?? (e as ClawguardError).code ?? 'error', error: (e as Error).message, hop });
  }

  async function fetchGuarded(raw: string, fo: EgressFetchOptions = {}): Promise<EgressResponse> {
    let method = (fo.method ?? 'GET').toUpperCase();
    if (!METHODS.has(method)) throw new ClawguardError('bad_request', `HTTP method "${fo.method}" is not allowed`);
    let headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(fo.headers ?? {})) {
      const key = k.toLowerCase();
      if (FORBIDDEN_HEADERS.has(key)) continue;
      if (typeof v !== 'string' || /[\r\n\0]/.test(v)) throw new ClawguardError('bad_request', `header "${k}" has an invalid value`);
      headers[key] = v;
    }
    let body: string | Uint8Array | undefined = fo.body;
    const cap = fo.maxResponseBytes ?? maxResponseBytes;
    const limitMs = fo.timeoutMs ?? timeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new ClawguardError('timeout', `egress to ${quote(raw)} timed out after ${limitMs} ms`)), limitMs);
    const onOuterAbort = () => ac.abort(fo.signal?.reason);
    fo.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const redirects: string[] = [];
    const scoped = callRules(fo);
    let current = raw;
    let previous: string | undefined;
    try {
      for (let hop = 0; ; hop++) {
        const t0 = performance.now();
        let c: CheckedUrl;
        try {
          c = await checkInner(current, ac.signal, scoped);
        } catch (e) {
          logDeny(current, e, hop);
          throw e;
        }
        const crossOrigin = previous !== undefined && new URL(previous).origin !== new URL(c.url).origin;
        if (crossOrigin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => CROSS_ORIGIN_SAFE.has(k)));
        const extra = fo.beforeHop ? await fo.beforeHop(c.url, { hop, ...(previous ? { previousUrl: previous } : {}), crossOrigin, headers: { ...headers } }) : undefined;
        const hopHeaders = { ...headers };
        let injected = false;
        for (const [k, v] of Object.entries(extra ?? {})) {
          if (FORBIDDEN_HEADERS.has(k.toLowerCase())) continue;
          hopHeaders[k.toLowerCase()] = v;
          injected = true;
        }
        if (injected) for (const k of RANGE_HEADERS) delete hopHeaders[k];
        hopHeaders['accept-encoding'] = 'identity';
        let res: Awaited<ReturnType<typeof request>>;
        try {
          res = await request(c.url, {
            method: method as 'GET',
            headers: hopHeaders,
            ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
            dispatcher: agentFor(c.pinned.address),
            signal: ac.signal,
            headersTimeout: limitMs,
            bodyTimeout: limitMs,
          });
        } catch (e) {
          const err = ac.signal.aborted && ac.signal.reason instanceof ClawguardError ? ac.signal.reason : e;
          log({ url: c.url, host: c.host, port: c.port, address: c.pinned.address, decision: 'allow', method, hop, error: (err as Error).message, durationMs: performance.now() - t0 });
          if (err instanceof ClawguardError) throw err;
          throw new ClawguardError('tool_failed', `request to host "${c.host}" (${c.pinned.address}) failed: ${(err as Error).message}`, { details: { host: c.host } });
        }
        const location = res.headers['location'];
        if (REDIRECTS.has(res.statusCode) && typeof location === 'string' && fo.followRedirects !== false) {
          await res.body.dump().catch(() => undefined);
          log({ url: c.url, host: c.host, port: c.port, address: c.pinned.address, decision: 'allow', method, hop, status: res.statusCode, bytes: 0, durationMs: performance.now() - t0 });
          if (hop >= maxRedirects) throw new ClawguardError('bad_request', `too many redirects (more than ${maxRedirects}) starting at ${quote(raw)}`);
          let next: string;
          try {
            next = new URL(location, c.url).href;
          } catch {
            throw new ClawguardError('tool_failed', `host "${c.host}" sent an invalid redirect location ${quote(location)}`);
          }
          if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
            if (method !== 'HEAD') method = 'GET';
            body = undefined;
            delete headers['content-type'];
          }
          redirects.push(next);
          previous = c.url;
          current = next;
          continue;
        }
        let codings: Coding[];
        try {
          // A HEAD, 204 or 304 response has no body; its content-encoding describes the one a GET would get.
          codings = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304 ? [] : codingsOf(res.headers, c.host);
        } catch (e) {
          res.body.on('error', () => undefined).destroy(); // not read; the connection is not reused
          throw e;
        }
        const { buf, truncated } = codings.length ? await readDecoded(res.body, codings, cap, c.host) : await readCapped(res.body, cap);
        log({ url: c.url, host: c.host, port: c.port, address: c.pinned.address, decision: 'allow', method, hop, status: res.statusCode, bytes: buf.length, truncated, durationMs: performance.now() - t0 });
        const outHeaders: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !(codings.length && DECODED_AWAY.has(k))) outHeaders[k] = v;
        return { status: res.statusCode, headers: outHeaders, body: buf, truncated, finalUrl: c.url, address: c.pinned.address, redirects, decoded: codings };
      }
    } catch (e) {
      // An abort surfaces as whatever undici threw; report it as the timeout it was.
      if (ac.signal.aborted && ac.signal.reason instanceof ClawguardError && !(e instanceof ClawguardError && e.code !== 'tool_failed')) throw ac.signal.reason;
      throw e;
    } finally {
      clearTimeout(timer);
      fo.signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  const close = async () => {
    const all = [...agents.values()];
    agents.clear();
    await Promise.all(all.map((a) => a.close().catch(() => undefined)));
  };
  return { check, fetch: fetchGuarded, close };
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }, cap: number): Promise<{ buf: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  let truncated = false;
  for await (const chunk of body) {
    if (total + chunk.length > cap) {
      chunks.push(chunk.subarray(0, cap - total));
      total = cap;
      truncated = true;
      body.destroy(); // stop reading; the connection is not reused
      break;
    }
    chunks.push(chunk);
    total += chunk.length;
  }
  return { buf: Buffer.concat(chunks, total), truncated };
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
