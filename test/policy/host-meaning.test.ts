/**
 * One meaning of a host pattern (issue 14): for a secret's allowedHosts and a tool rule's `hosts`,
 * the config tier's Cedar, the allow-list PDP, the broker's binding (secrets/hosts.ts) and the config
 * grants all say what src/sandbox/host-pattern.ts says, on a fixed-seed random set of URLs x patterns
 * (schemes, ports, wildcards, trailing dots, uppercase, IDNA), and on hostile URLs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { AllowListDecisionPoint } from '../../src/pipeline/index.js';
import { hostPatternMatches, parseHostPattern, parseHostPatterns, targetOf } from '../../src/sandbox/index.js';
import { configGrantAuthorizer } from '../../src/secrets/index.js';
import { hostAllowed } from '../../src/secrets/hosts.js';
import { mulberry32 } from '../helpers/prng.js';
import { ctx, pdpFor, req, run } from './helpers.js';

const HOSTS = ['example.com', 'api.example.com', 'a.b.example.com', 'EXAMPLE.com', 'example.com.', 'Api.Example.COM.', 'evil-example.com', 'example.com.evil.net', 'bücher.example', 'xn--bcher-kva.example', 'sub.bücher.example', '127.0.0.1', '[::1]', 'localhost'];
const PORTS = [undefined, 80, 443, 8080, 8443];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function randomUrl(r: () => number): string {
  const scheme = pick(r, ['http', 'https', 'HTTPS']);
  const port = pick(r, PORTS);
  return `${scheme}://${pick(r, HOSTS)}${port === undefined ? '' : `:${port}`}/p?q=1`;
}

function randomPattern(r: () => number): string {
  let host = pick(r, HOSTS);
  const wild = r() < 0.3 && !/^[[\d]/.test(host) && host !== 'localhost';
  if (wild) host = `${pick(r, ['*.', '.'])}${host.replace(/^(api|a\.b|sub)\./i, '')}`;
  const port = r() < 0.5 ? pick(r, PORTS.slice(1)) : undefined;
  const scheme = r() < 0.35 ? pick(r, ['http://', 'https://', 'HTTP://']) : '';
  return `${scheme}${host}${port === undefined ? '' : `:${port}`}${scheme && r() < 0.3 ? '/' : ''}`;
}

/** Entries a tool rule may carry unchecked: each tier must treat them alike (they name nothing). */
const BROKEN = ['exa*mple.com', 'ftp://example.com', 'example.com:99999', 'https://example.com/path', '*'];

function expected(entries: readonly string[], url: string, defaults: 'origin' | 'any'): boolean {
  const t = targetOf(new URL(url));
  return !!t && parseHostPatterns(entries, { defaults, star: defaults === 'any' }).some((p) => hostPatternMatches(p, t));
}

function lists(r: () => number, n: number, broken: boolean): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const k = 1 + Math.floor(r() * 3);
    const l: string[] = [];
    for (let j = 0; j < k; j++) l.push(broken && r() < 0.1 ? pick(r, BROKEN) : randomPattern(r));
    out.push(l.filter((e) => (broken ? true : parseHostPattern(e, { defaults: 'origin' }).ok)).concat());
  }
  return out.filter((l) => l.length > 0);
}

test('secret allowedHosts: config-tier Cedar, broker binding and config grants agree with host-pattern (fixed seed, 40 lists x 60 URLs)', async () => {
  const r = mulberry32(0x5eed14);
  const ls = lists(r, 40, false);
  const secrets = Object.fromEntries(ls.map((l, i) => [`s${i}`, { provider: 'external', source: 'env', env: 'X', agents: ['p'], allowedHosts: l }]));
  const raw = { agents: { p: {} }, secrets };
  const { pdp } = pdpFor(raw);
  const config = parseConfig(raw, '/tmp/clawguard.json');
  const grants = configGrantAuthorizer(config.secrets);
  const urls = Array.from({ length: 60 }, () => randomUrl(r));
  let allowed = 0;
  for (const [i, l] of ls.entries()) {
    for (const url of urls) {
      const want = expected(l, url, 'origin');
      const dest = new URL(url);
      const host = dest.hostname.replace(/\.$/, '');
      // Exactly what the gateway asks (src/server/gateway.ts): the host and the destination's origin.
      const d = pdp.decide(req(run('p'), 'secret.use', { secret: `s${i}`, host, url: dest.origin }), ctx());
      const why = `${JSON.stringify(l)} x ${url}`;
      assert.equal(d.effect === 'allow', want, `Cedar: ${why} (${d.reasons.join('; ')})`);
      assert.equal(hostAllowed(l, dest), want, `broker: ${why}`);
      assert.equal((await grants(run('p'), `s${i}`, host, dest)).effect === 'allow', want, `grants: ${why}`);
      if (want) allowed++;
    }
  }
  assert.ok(allowed > 50 && allowed < ls.length * urls.length - 50, `both verdicts are exercised (${allowed} allowed)`);
});

test('tool rule hosts: allow-list PDP and config-tier Cedar agree with host-pattern, broken entries included (fixed seed)', () => {
  const r = mulberry32(0x14c0de);
  const ls = lists(r, 40, true);
  const agents = Object.fromEntries(ls.map((l, i) => [`p${i}`, { tools: { allow: [{ tool: 'http.fetch', hosts: l }] } }]));
  const raw = { agents };
  const { pdp } = pdpFor(raw);
  const config = parseConfig(raw, '/tmp/clawguard.json');
  const allowList = new AllowListDecisionPoint(() => config.agents);
  const urls = Array.from({ length: 50 }, () => randomUrl(r));
  let allowed = 0;
  for (const [i, l] of ls.entries()) {
    for (const url of urls) {
      const want = expected(l, url, 'any');
      const rq = req(run(`p${i}`), 'http.fetch', { url });
      assert.equal(pdp.decide(rq, ctx()).effect === 'allow', want, `Cedar: ${JSON.stringify(l)} x ${url}`);
      assert.equal(allowList.decide(rq).effect === 'allow', want, `allow-list: ${JSON.stringify(l)} x ${url}`);
      if (want) allowed++;
    }
  }
  assert.ok(allowed > 50, `allows are exercised (${allowed})`);
});

test('port-pinned and origin entries: usable on their port and scheme only, in every tier', async () => {
  const l = ['api.github.com:443', 'https://api.example.com:8443', 'http://localhost:8080', '*.corp.example'];
  const raw = { agents: { p: { tools: { allow: [{ tool: 'http.fetch', hosts: ['api.github.com:8443', 'http://localhost:8080'] }] } } }, secrets: { gh: { provider: 'external', source: 'env', env: 'X', agents: ['p'], allowedHosts: l } } };
  const { pdp } = pdpFor(raw);
  const grants = configGrantAuthorizer(parseConfig(raw, '/tmp/clawguard.json').secrets);
  const cases: Array<[string, boolean]> = [
    ['https://api.github.com/', true],
    ['https://api.github.com:443/x', true],
    ['https://API.GITHUB.COM./x', true],
    ['https://api.github.com:8443/', false],
    ['http://api.github.com/', false],
    ['https://api.example.com:8443/', true],
    ['https://api.example.com/', false],
    ['http://api.example.com:8443/', false],
    ['http://localhost:8080/', true],
    ['https://localhost:8080/', false],
    ['http://localhost/', false],
    ['https://x.corp.example/', true],
    ['https://corp.example/', false],
    ['https://x.corp.example:8443/', false],
  ];
  for (const [url, want] of cases) {
    const dest = new URL(url);
    const d = pdp.decide(req(run('p'), 'secret.use', { secret: 'gh', host: dest.hostname, url: dest.origin }), ctx());
    assert.equal(d.effect === 'allow', want, `Cedar ${url}`);
    assert.equal(hostAllowed(l, dest), want, `broker ${url}`);
    assert.equal((await grants(run('p'), 'gh', dest.hostname, dest)).effect === 'allow', want, `grants ${url}`);
  }
  const fetch = (url: string) => pdp.decide(req(run('p'), 'http.fetch', { url }), ctx()).effect;
  assert.equal(fetch('https://api.github.com:8443/'), 'allow', 'a port-pinned tool rule on its port');
  assert.equal(fetch('http://api.github.com:8443/'), 'allow', 'a tool rule entry without a scheme is any scheme');
  assert.equal(fetch('https://api.github.com/'), 'deny', 'and not on another port');
  assert.equal(fetch('http://localhost:8080/a'), 'allow');
  assert.equal(fetch('https://localhost:8080/a'), 'deny');
});

test('an empty allowedHosts is nowhere: config-tier Cedar, broker and grants all refuse, for every destination and none', async () => {
  const raw = { agents: { p: { tools: { allow: ['*'] } } }, secrets: { none: { provider: 'external', source: 'env', env: 'X', agents: ['p'] } } };
  const { pdp } = pdpFor(raw);
  const grants = configGrantAuthorizer(parseConfig(raw, '/tmp/clawguard.json').secrets);
  for (const url of ['https://api.example.com/', 'http://127.0.0.1:9/', 'https://[::1]:443/']) {
    const dest = new URL(url);
    assert.equal(pdp.decide(req(run('p'), 'secret.use', { secret: 'none', host: dest.hostname, url: dest.origin }), ctx()).effect, 'deny', `Cedar ${url}`);
    assert.equal(hostAllowed([], dest), false, `broker ${url}`);
    const g = await grants(run('p'), 'none', dest.hostname, dest);
    assert.equal(g.effect, 'deny', `grants ${url}`);
    assert.match(g.reasons.join(' '), /allowedHosts is empty/);
  }
  assert.equal(pdp.decide(req(run('p'), 'secret.use', { secret: 'none' }), ctx()).effect, 'deny', 'Cedar, no destination');
  assert.equal((await grants(run('p'), 'none', '')).effect, 'deny', 'grants, no destination (the exec resolver)');
});

test('hostile args.url cannot make the Cedar tier disagree: paths, userinfo, backslashes, 5 MB, control characters', () => {
  const l = ['*.example.com', 'api.github.com:443', 'http://localhost:8080'];
  const raw = { agents: { p: { tools: { allow: [{ tool: 'http.fetch', hosts: l }] } } }, secrets: { s: { provider: 'external', source: 'env', env: 'X', agents: ['p'], allowedHosts: l } } };
  const { pdp } = pdpFor(raw);
  const config = parseConfig(raw, '/tmp/clawguard.json');
  const allowList = new AllowListDecisionPoint(() => config.agents);
  const r = mulberry32(7);
  const hostile = [
    'https://evil.com/x.example.com:443',
    'https://a.example.com:8443/x.example.com:443',
    'https://a.example.com:443@evil.com:443',
    'https://evil.com\\.example.com:443',
    'https://evil.com?.example.com:443',
    'https://evil.com#.example.com:443',
    'https://.example.com:443',
    'https://api.github.com:443:443',
    'http://localhost:8080\u0000.evil',
    'https://x.example.com:443' + 'a'.repeat(5 * 1024 * 1024),
    `https://${'a.'.repeat(100)}example.com`,
    'javascript://x.example.com:443',
    'not a url',
    ...Array.from({ length: 200 }, () => {
      const chars = ['/', '\\', '@', ':', '?', '#', '.', 'example.com', 'evil', '443', '8080', '%2e', '*', 'localhost'];
      let s = pick(r, ['https://', 'http://', 'HTTPS://', '']);
      for (let i = 0, n = 2 + Math.floor(r() * 8); i < n; i++) s += pick(r, chars);
      return s;
    }),
  ];
  for (const url of hostile) {
    let want = false;
    try {
      want = expected(l, url, 'any');
    } catch {
      want = false;
    }
    const shown = url.length > 80 ? `${url.slice(0, 80)}…` : url;
    const rq = req(run('p'), 'http.fetch', { url });
    assert.equal(pdp.decide(rq, ctx()).effect === 'allow', want, `Cedar fetch ${JSON.stringify(shown)}`);
    assert.equal(allowList.decide(rq).effect === 'allow', want, `allow-list ${JSON.stringify(shown)}`);
    let wantSecret = false;
    try {
      wantSecret = expected(l, url, 'origin');
    } catch {
      wantSecret = false;
    }
    // A caller that passes a whole URL (not an origin) still gets host-pattern's verdict on it.
    assert.equal(pdp.decide(req(run('p'), 'secret.use', { secret: 's', url }), ctx()).effect === 'allow', wantSecret, `Cedar secret ${JSON.stringify(shown)}`);
  }
});
