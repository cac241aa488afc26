/**
 * The one host-pattern module (src/sandbox/host-pattern.ts): the forms it accepts, what each means
 * (https and 443 for a secret binding unless it says otherwise; any scheme and port for a
 * destination list), the spellings an attacker would try, and a fixed-seed differential against
 * the WHATWG URL parser's own view of origins and hosts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { hostPatternMatches, parseHostPattern, targetOf, type HostPattern, type HostPatternOptions } from '../../src/sandbox/index.js';
import { hostAllowed } from '../../src/secrets/index.js';
import { mulberry32 } from '../helpers/prng.js';

const BINDING: HostPatternOptions = { defaults: 'origin' };
const LIST: HostPatternOptions = { defaults: 'any', star: true };
const PRIV: HostPatternOptions = { defaults: 'any', cidr: true };

function must(entry: string, o: HostPatternOptions): HostPattern {
  const r = parseHostPattern(entry, o);
  assert.ok(r.ok, `${entry}: ${r.ok ? '' : r.error}`);
  return r.pattern;
}
const matches = (entry: string, url: string, o: HostPatternOptions = BINDING, address?: string) => hostPatternMatches(must(entry, o), targetOf(new URL(url), address)!);

test('a secret binding is https on 443 unless it names another scheme or port (the issue: api.example.com must not reach http://api.example.com:8080)', () => {
  assert.equal(matches('api.example.com', 'https://api.example.com/v1'), true);
  assert.equal(matches('api.example.com', 'https://api.example.com:443/'), true);
  assert.equal(matches('api.example.com', 'http://api.example.com:8080/'), false, 'other port, plain http');
  assert.equal(matches('api.example.com', 'http://api.example.com/'), false, 'plain http on 80');
  assert.equal(matches('api.example.com', 'https://api.example.com:8443/'), false, 'another service on the same host');
  assert.equal(matches('api.example.com:8443', 'https://api.example.com:8443/'), true);
  assert.equal(matches('api.example.com:8443', 'http://api.example.com:8443/'), false, 'host:port is still https');
  assert.equal(matches('http://localhost:8080', 'http://localhost:8080/x'), true);
  assert.equal(matches('http://localhost:8080', 'https://localhost:8080/'), false);
  assert.equal(matches('http://localhost:8080', 'http://localhost:8081/'), false);
  assert.equal(matches('http://localhost', 'http://localhost:80/'), true, 'an origin without a port has its scheme default');
  assert.equal(matches('https://api.example.com:443/', 'https://api.example.com/'), true, 'a trailing slash is allowed');
  assert.equal(matches('HTTPS://API.Example.COM.', 'https://api.example.com/'), true, 'case and trailing dot');
  assert.equal(matches('api.example.com', 'https://API.EXAMPLE.COM./'), true);
  // Wildcards: every subdomain, never the apex, with the binding's scheme and port.
  assert.equal(matches('*.example.com', 'https://a.example.com/'), true);
  assert.equal(matches('*.example.com', 'https://a.b.example.com/'), true);
  assert.equal(matches('*.example.com', 'https://example.com/'), false);
  assert.equal(matches('*.example.com', 'https://aexample.com/'), false);
  assert.equal(matches('*.example.com', 'https://a-example.com/'), false);
  assert.equal(matches('*.example.com', 'http://a.example.com/'), false);
  assert.equal(matches('*.example.com', 'https://a.example.com:8443/'), false);
  assert.equal(matches('https://*.example.com:8443', 'https://a.example.com:8443/'), true);
  // IPv6 literals, IDNA.
  assert.equal(matches('[::1]:8443', 'https://[::1]:8443/'), true);
  assert.equal(matches('[0:0:0:0:0:0:0:1]:8443', 'https://[::1]:8443/'), true);
  assert.equal(matches('http://[::1]:8080', 'http://[0::1]:8080/'), true);
  assert.equal(matches('::1', 'https://[::1]/'), true, 'a bare IPv6 literal is a host without a port');
  assert.equal(matches('::1', 'https://[::1]:8443/'), false);
  assert.equal(matches('bücher.example', 'https://xn--bcher-kva.example/'), true);
  assert.equal(matches('xn--bcher-kva.example', 'https://BÜCHER.example/'), true);
  assert.equal(matches('127.1', 'https://127.0.0.1/'), true, 'IPv4 spellings are canonical, as in URLs');
  // Hostile target spellings: the URL parser decides where a request goes, and so the match.
  for (const u of ['https://api.example.com.evil.com/', 'https://evil.com/api.example.com', 'https://api.example.com@evil.com/', 'https://evil.com#@api.example.com', 'https://evil.com?api.example.com', 'https://api.example.com%2eevil.com/', 'https://api-example.com/', 'ftp://api.example.com/', 'ws://api.example.com/']) {
    assert.equal(hostAllowed(['api.example.com'], new URL(u)), false, u);
  }
  assert.equal(hostAllowed(['api.example.com'], new URL('https://api.example.com\\.evil.com/')), true, 'a backslash ends the host in http(s) URLs: this request does go to api.example.com');
  assert.equal(hostAllowed([], new URL('https://api.example.com/')), false, 'no binding: nowhere');
});

test('destination lists and allowPrivate: any scheme and port unless the entry names one; addresses and CIDRs match the resolved address', () => {
  assert.equal(matches('localhost', 'http://localhost:1234/', LIST), true);
  assert.equal(matches('localhost:8080', 'http://localhost:8080/', LIST), true);
  assert.equal(matches('localhost:8080', 'https://localhost:8080/', LIST), true);
  assert.equal(matches('localhost:8080', 'http://localhost:8081/', LIST), false);
  assert.equal(matches('http://localhost:8080', 'https://localhost:8080/', LIST), false);
  assert.equal(matches('*', 'https://anything.example/', LIST), true);
  assert.equal(matches('127.0.0.1:11434', 'http://127.0.0.1:11434/api', PRIV), true);
  assert.equal(matches('127.0.0.1:11434', 'http://127.0.0.1:11435/api', PRIV), false);
  assert.equal(matches('127.0.0.1:11434', 'http://model.internal:11434/', PRIV, '127.0.0.1'), true, 'by resolved address');
  assert.equal(matches('127.0.0.1', 'http://model.internal:9/', PRIV, '127.0.0.2'), false);
  assert.equal(matches('10.0.0.0/8:8080', 'http://db.internal:8080/', PRIV, '10.1.2.3'), true);
  assert.equal(matches('10.0.0.0/8:8080', 'http://db.internal:8081/', PRIV, '10.1.2.3'), false);
  assert.equal(matches('10.0.0.0/8', 'http://db.internal:1/', PRIV, '11.1.2.3'), false);
  assert.equal(matches('[fd00::]/8:8080', 'http://[fd12::1]:8080/', PRIV), true);
  assert.equal(matches('fd00::/8', 'http://x.internal/', PRIV, 'fd12::1'), true);
  assert.equal(matches('localhost', 'http://localhost:5/', PRIV, '127.0.0.1'), true);
  assert.equal(matches('localhost', 'http://evil.example:5/', PRIV, '127.0.0.1'), false, 'a name pattern matches the name, not whatever resolves like it');
});

test('entries that cannot mean anything are refused, with the reason; config check names the key', () => {
  const bad: Array<[string, HostPatternOptions, RegExp]> = [
    ['', BINDING, /empty/],
    ['   ', BINDING, /empty/],
    ['*', BINDING, /every host/],
    ['*', PRIV, /every host/],
    ['https://api.example.com/v1', BINDING, /not a path/],
    ['https://api.example.com?x=1', BINDING, /not a path/],
    ['https://user@api.example.com', BINDING, /user information/],
    ['ftp://api.example.com', BINDING, /not http or https/],
    ['api.example.com:0', BINDING, /outside 1-65535/],
    ['api.example.com:65536', BINDING, /outside 1-65535/],
    ['api.example.com:https', BINDING, /not a number/],
    ['api.example.com:', BINDING, /not a number/],
    ['*.1.2.3.4', BINDING, /needs a domain/],
    ['a.*.example.com', BINDING, /first label/],
    ['*example.com', BINDING, /first label/],
    ['[::1', BINDING, /not closed/],
    ['[::1]x', BINDING, /unexpected/],
    ['https://::1:8080', BINDING, /needs brackets/],
    ['exa mple.com', BINDING, /cannot be part of a host/],
    ['evil.com\\api.example.com', BINDING, /cannot be part of a host/],
    ['api.example.com/v1', BINDING, /no path/],
    ['10.0.0.0/8', BINDING, /CIDR range is not accepted/],
    ['10.0.0.0/33', PRIV, /too long/],
    ['10.1/8', PRIV, /not an IP address/],
    ['1.2.3.4.5', BINDING, /not a valid host/],
  ];
  for (const [e, o, why] of bad) {
    const r = parseHostPattern(e, o);
    assert.equal(r.ok, false, `${JSON.stringify(e)} was accepted`);
    assert.match((r as { error: string }).error, why, e);
  }
  assert.throws(
    () => parseConfig({ secrets: { gh: { source: 'env', env: 'GH', allowedHosts: ['api.github.com', 'https://api.github.com/repos'] } }, agents: { a: { sandbox: { networkAccess: { allowPrivate: ['127.0.0.1:11434', '*'], allowedDomains: ['ok.example', 'bad host'] } } } } }),
    (e: Error) =>
      /secrets\.gh\.allowedHosts\[1\]: "https:\/\/api\.github\.com\/repos" cannot be used: an origin names scheme, host and port only/.test(e.message) &&
      /agents\.a\.sandbox\.networkAccess\.allowPrivate\[1\]: "\*" cannot be used/.test(e.message) &&
      /agents\.a\.sandbox\.networkAccess\.allowedDomains\[1\]/.test(e.message) &&
      !/allowedHosts\[0\]|allowPrivate\[0\]|allowedDomains\[0\]/.test(e.message),
  );
});

// ── differential, fixed seed ──────────────────────────────────────────────────────────────────

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rand, p: number) => r() < p;

/** A host as the generator knows it: its canonical-to-be spelling parts. */
type Host = { kind: 'name'; labels: string[] } | { kind: 'v4'; bytes: number[] } | { kind: 'v6'; groups: number[] };

function randomHost(r: Rand): Host {
  const k = r();
  if (k < 0.15) return { kind: 'v4', bytes: Array.from({ length: 4 }, () => Math.floor(r() * 256)) };
  if (k < 0.25) return { kind: 'v6', groups: Array.from({ length: 8 }, () => (chance(r, 0.4) ? 0 : Math.floor(r() * 65536))) };
  const n = 1 + Math.floor(r() * 3);
  const labels = Array.from({ length: n }, () => pick(r, ['api', 'a', 'b-c', 'x1', 'bücher', 'straße', 'ｅｘａｍｐｌｅ', 'xn--bcher-kva', 'svc', 'z9', 'test-1']));
  labels.push(pick(r, ['com', 'test', 'example', 'xn--p1ai', 'io']));
  return { kind: 'name', labels };
}

/** One of the many spellings the URL parser reads as this host. */
function spell(r: Rand, h: Host, bracketV6: boolean): string {
  if (h.kind === 'v4') {
    const [a, b, c, d] = h.bytes as [number, number, number, number];
    const v = pick(r, ['dotted', 'hex', 'octal', 'int', 'short', 'dot']);
    if (v === 'hex') return [a, b, c, d].map((x) => `0x${x.toString(16)}`).join('.');
    if (v === 'octal') return [a, b, c, d].map((x) => `0${x.toString(8)}`).join('.');
    if (v === 'int') return String(((a << 24) >>> 0) + (b << 16) + (c << 8) + d);
    if (v === 'short') return `${a}.${(b << 16) + (c << 8) + d}`;
    return `${a}.${b}.${c}.${d}${v === 'dot' ? '.' : ''}`;
  }
  if (h.kind === 'v6') {
    const hex = h.groups.map((g) => g.toString(16));
    let s = pick(r, ['full', 'padded', 'compressed']) === 'padded' ? h.groups.map((g) => g.toString(16).padStart(4, '0')).join(':') : hex.join(':');
    if (chance(r, 0.5)) {
      const z = s.match(/(^|:)(0(:0)+)(:|$)/);
      if (z) s = s.replace(z[0], '::');
    }
    if (chance(r, 0.3)) s = s.toUpperCase();
    return bracketV6 ? `[${s}]` : s;
  }
  let s = h.labels
    .map((l) => {
      let x = chance(r, 0.3) ? l.toUpperCase() : l;
      if (chance(r, 0.1) && /^[a-z]/.test(x)) x = `%${x.charCodeAt(0).toString(16)}${x.slice(1)}`;
      return x;
    })
    .join('.');
  if (chance(r, 0.2)) s += '.';
  return s;
}

/** The URL parser's view: hostname of a spelled host, one trailing dot removed. */
const viewHost = (spelled: string) => new URL(`http://${spelled.includes(':') && !spelled.startsWith('[') ? `[${spelled}]` : spelled}/`).hostname.replace(/\.$/, '');
const defaultPort = (scheme: string) => (scheme === 'https' ? 443 : 80);

test('differential: 6,000 random entries and URLs, fixed seed — the module agrees with the WHATWG URL parser on every origin and host', () => {
  const r = mulberry32(0x1205);
  let compared = 0;
  let matched = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < 6000 && mismatches.length < 5; i++) {
    const mode = chance(r, 0.6) ? BINDING : LIST;
    const base = randomHost(r);
    const wildcard = base.kind === 'name' && chance(r, 0.25);
    const origin = chance(r, 0.35);
    const scheme = origin ? pick(r, ['http', 'https', 'HTTPS']) : undefined;
    const port = chance(r, 0.4) ? pick(r, [80, 443, 8080, 8443, Math.floor(1 + r() * 65535)]) : undefined;
    const hostText = spell(r, base, origin || port !== undefined || chance(r, 0.5));
    const entry = `${scheme ? `${scheme}://` : ''}${wildcard ? '*.' : ''}${hostText}${port !== undefined ? `:${port}` : ''}${origin && chance(r, 0.2) ? '/' : ''}`;
    const parsed = parseHostPattern(entry, mode);
    if (!parsed.ok) {
      mismatches.push(`${entry} (${mode.defaults}) refused: ${parsed.error}`);
      continue;
    }
    // The target: the same host respelled, a subdomain, another host, or an attack on the name.
    const t = r();
    const tHost = base.kind === 'name' && t < 0.15 ? `${pick(r, ['w', 'x.y', 'evil'])}.${spell(r, base, true)}` : t < 0.55 ? spell(r, base, true) : t < 0.75 ? spell(r, randomHost(r), true) : undefined;
    const tScheme = pick(r, ['http', 'https']);
    const tPort = pick(r, [undefined, 80, 443, 8080, 8443, port, port]);
    const plainName = base.kind === 'name' ? spell(r, base, true).replace(/\.$/, '') : '127.0.0.1';
    const url = tHost !== undefined ? `${tScheme}://${tHost}${tPort !== undefined ? `:${tPort}` : ''}/p` : pick(r, [`${tScheme}://${plainName}.evil.com/`, `${tScheme}://evil${plainName}/`, `${tScheme}://${plainName}@evil.com/`, `${tScheme}://evil.com/${plainName}`, `${tScheme}://evil.com#${plainName}`, `${tScheme}://${plainName}-x.com/`]);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      continue;
    }
    const ours = hostPatternMatches(parsed.pattern, targetOf(u)!);
    // Reference, from the generator's parts and the URL parser alone.
    const effScheme = scheme?.toLowerCase() ?? (mode.defaults === 'origin' ? 'https' : undefined);
    const effPort = port ?? (effScheme ? defaultPort(effScheme) : undefined);
    const uScheme = u.protocol.slice(0, -1);
    const uPort = u.port ? Number(u.port) : defaultPort(uScheme);
    const uHost = u.hostname.replace(/\.$/, '');
    let ref: boolean;
    if (wildcard) {
      const suffix = viewHost(hostText);
      ref = (effScheme === undefined || effScheme === uScheme) && (effPort === undefined || effPort === uPort) && uHost.endsWith(`.${suffix}`);
    } else if (effScheme !== undefined) {
      // An origin: compare what the URL parser makes of both origins.
      const po = new URL(`${effScheme}://${base.kind === 'v6' && !hostText.startsWith('[') ? `[${hostText}]` : hostText}:${effPort}/`);
      ref = `${po.protocol}//${po.hostname.replace(/\.$/, '')}:${po.port || defaultPort(effScheme)}` === `${u.protocol}//${uHost}:${uPort}`;
    } else {
      ref = viewHost(hostText) === uHost && (effPort === undefined || effPort === uPort);
    }
    compared++;
    if (ref) matched++;
    if (ours !== ref) mismatches.push(`${JSON.stringify(entry)} (${mode.defaults}) vs ${url}: module says ${ours}, URL parser says ${ref}`);
    // Every accepted entry can match: its own canonical destination.
    const p = parsed.pattern;
    const witness = `${p.scheme ?? 'https'}://${p.kind === 'wildcard' ? `w.${p.host}` : p.host}:${p.port ?? 443}/`;
    if (!hostPatternMatches(p, targetOf(new URL(witness))!)) mismatches.push(`${JSON.stringify(entry)} accepted but matches not even ${witness}`);
  }
  assert.deepEqual(mismatches, []);
  assert.ok(compared > 5000, `compared ${compared}`);
  assert.ok(matched > 800 && matched < compared - 800, `both outcomes are exercised (${matched} of ${compared} matched)`);
});
