import assert from 'node:assert/strict';
import { matchesGlob } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { AllowListDecisionPoint } from '../../src/pipeline/index.js';
import { matchGlob } from '../../src/policy/index.js';
import { agent, ctx, pdpFor, req, run } from './helpers.js';

test('path globs match as path.matchesGlob does, except that they cover dotfiles and dir/** covers dir (differential, 20,000 random cases)', () => {
  const segs = ['a', 'b', '.git', '.env', 'x.ts', 'y.js', '..', '.', '', 'data', 'A', 'a*b', '[x]', 'bb'];
  const gsegs = ['a', '*', '**', '?', '.*', '*.ts', '*.{ts,js}', '[a-c]', '[!a]', 'data', '+(b)', '@(a|b)', '!(a)', 'b*', '{a,b}', 'A', '.git'];
  let seed = 7;
  const r = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let i = 0; i < 20_000; i++) {
    const p = (r(2) ? '/' : '') + Array.from({ length: 1 + r(4) }, () => segs[r(segs.length)]).join('/') + (r(6) === 0 ? '/' : '');
    const g = (r(2) ? '/' : '') + Array.from({ length: 1 + r(4) }, () => gsegs[r(gsegs.length)]).join('/');
    // Where no segment is a dotfile and the pattern does not end in /**, the two agree exactly.
    const plain = !p.split('/').some((x) => x.startsWith('.')) && !g.endsWith('/**');
    if (plain) assert.equal(matchGlob(p, g), matchesGlob(p, g), `${p} vs ${g}`);
    // Everything node matches, matchGlob matches too: it only ever widens, never narrows.
    if (matchesGlob(p, g)) assert.equal(matchGlob(p, g), true, `${p} vs ${g}`);
  }
  for (const [p, g] of [['/ws/secrets/.env', '/ws/secrets/**'], ['/ws/secrets', '/ws/secrets/**'], ['/ws/a/.git/config', '/ws/**'], ['/ws/.env', '/ws/*'], ['/ws/x/.ssh/id_rsa', '**/.ssh/**'], ['/ws/a', '/ws/*/**']]) {
    assert.equal(matchGlob(p!, g!), true, `${p} vs ${g}`);
  }
  for (const [p, g] of [['/ws/secretsX', '/ws/secrets/**'], ['/ws', '/ws/secrets/**'], ['/other/.env', '/ws/**']]) assert.equal(matchGlob(p!, g!), false, `${p} vs ${g}`);
});

test('config argument rules decide as the allow-list did (differential over paths, hosts and commands)', () => {
  const raw = {
    agents: {
      p: {
        tools: {
          allow: [{ tool: 'fs.read', paths: ['/data/**', '/srv/*.txt'] }, { tool: 'fs.*', paths: ['/tmp/**'] }, { tool: 'http.fetch', hosts: ['api.example.com', '*.good.org'] }, { tool: 'exec.run', commands: ['git', 'ls'] }, 'system.time'],
          deny: [{ tool: 'fs.*', paths: ['/data/secret/**'] }, { tool: 'http.fetch', hosts: ['evil.good.org'] }],
        },
      },
    },
  };
  const { pdp } = pdpFor(raw);
  const oracle = new AllowListDecisionPoint(() => parseConfig(raw).agents);
  const calls: Array<[string, unknown]> = [];
  for (const t of ['fs.read', 'fs.write', 'fs.list']) for (const path of ['/data/a', '/data/x/y.txt', '/data/secret/k', '/data/.env', '/srv/a.txt', '/srv/a/b.txt', '/tmp/x', '/etc/passwd', '/data', '', 'rel/x']) calls.push([t, { path }]);
  calls.push(['fs.read', {}], ['fs.read', { path: 42 }]);
  for (const url of ['https://api.example.com/v1', 'https://API.EXAMPLE.COM/', 'https://api.example.com./', 'https://evil.good.org./', 'http://api.example.com.evil.net/', 'https://x.good.org/', 'https://good.org/', 'https://evil.good.org/', 'https://a.b.good.org/', 'not a url', 'https://1.2.3.4/']) calls.push(['http.fetch', { url }]);
  calls.push(['http.fetch', {}]);
  for (const argv of [['git', 'status'], ['ls'], ['rm', '-rf'], ['/usr/bin/git'], [], [5]]) calls.push(['exec.run', { argv }]);
  calls.push(['exec.run', { argv: 'git' }], ['system.time', {}], ['model.chat', {}], ['memory.read', {}]);
  for (const [tool, args] of calls) {
    const want = oracle.decide(req(run('p'), tool, args));
    const got = pdp.decide(req(run('p'), tool, args), ctx());
    assert.equal(got.effect, want.effect, `${tool} ${JSON.stringify(args)}`);
    assert.equal(got.tier, want.tier, `${tool} ${JSON.stringify(args)}`);
    if (want.tier === 'config') assert.deepEqual(got.policies, want.policies, `${tool} ${JSON.stringify(args)}`);
  }
});

test('paths are normalized before matching, and relative paths resolve against the profile workspace', () => {
  const { pdp } = pdpFor({ agents: { p: { workspace: '/work/p', tools: { allow: [{ tool: 'fs.read', paths: ['/work/p/**'] }], deny: [{ tool: 'fs.read', paths: ['/work/p/private/**'] }] } } } });
  const d = (path: string) => pdp.decide(req(run('p'), 'fs.read', { path }), ctx());
  assert.equal(d('/work/p/notes.txt').effect, 'allow');
  assert.equal(d('notes.txt').effect, 'allow', 'relative to the workspace');
  assert.equal(d('/work/p/../../etc/passwd').effect, 'deny', '.. cannot climb out of an allowed glob');
  assert.equal(d('/work/p/x/../private/key').tier, 'config', 'nor around a denied one');
  assert.equal(d('/work/p/x/../private/key').effect, 'deny');
  assert.equal(d('../other/x').effect, 'deny');
});

test('secret.use: granted only to the agents a secret names, towards its allowedHosts (empty: nowhere)', () => {
  const { pdp } = pdpFor({
    agents: { research: { tools: { allow: ['*'] } }, other: {} },
    secrets: {
      openai: { provider: 'external', source: 'env', env: 'OPENAI_KEY', agents: ['research', 'alice'], allowedHosts: ['api.openai.com', '*.openai.azure.com'] },
      anywhere: { provider: 'external', source: 'env', env: 'X', agents: ['research'] },
    },
  });
  // As the gateway asks: the host, and the destination's origin as args.url.
  const use = (p: ReturnType<typeof run>, secret: string, host?: string) => pdp.decide(req(p, 'secret.use', { secret, ...(host ? { host, url: `https://${host}` } : {}) }), ctx());
  assert.equal(use(run('research'), 'openai', 'api.openai.com').effect, 'allow');
  assert.deepEqual(use(run('research'), 'openai', 'api.openai.com').policies, ['config:secret:openai:profile:research']);
  assert.equal(use(run('research'), 'openai', 'eu.openai.azure.com').effect, 'allow');
  assert.equal(use(run('research'), 'openai', 'evil.example').effect, 'deny', 'host not allowed');
  assert.equal(use(run('research'), 'openai').effect, 'deny', 'no host: allowedHosts cannot be checked');
  assert.equal(use(run('other'), 'openai', 'api.openai.com').effect, 'deny', 'profile not named');
  assert.equal(use(agent('alice'), 'openai', 'api.openai.com').effect, 'allow', 'a registered agent named by id');
  assert.equal(use(agent('mallory', { profile: 'other' }), 'openai', 'api.openai.com').effect, 'deny');
  assert.equal(use(run('research'), 'anywhere', 'whatever.example').effect, 'deny', 'no allowedHosts: nowhere');
  assert.equal(pdp.decide(req(run('research'), 'secret.use', { secret: 'openai', host: 'api.openai.com' }), ctx()).effect, 'deny', 'a host without its origin cannot show scheme and port');
  assert.equal(use(run('research'), 'nosuch', 'api.openai.com').effect, 'deny');
});

test('local policies read arguments, resources and principals (argument-aware, RBAC + ABAC)', () => {
  const { pdp } = pdpFor({ agents: { p: { tools: { allow: ['fs.read', 'http.fetch', 'exec.run'] } } } }, {
    'rules.cedar': `
@id("no-keys") forbid(principal, action in Action::"fs.*", resource is File) when { resource.path like "*.pem" };
@id("hosts") forbid(principal, action == Action::"http.fetch", resource) unless { context has host && context.host like "*.example.com" };
@id("get-only") forbid(principal, action == Action::"http.fetch", resource) when { context.args has method && context.args.method != "GET" };
@id("no-shell") forbid(principal, action == Action::"exec.run", resource == Command::"/bin/sh");
@id("ops-role") permit(principal in Role::"ops", action == Action::"exec.run", resource) when { principal.trustLevel == "trusted" && principal.capabilities.contains("exec") };
@id("args-json") forbid(principal, action == Action::"fs.read", resource) when { context.argsJson like "*\\"follow\\":true*" };`,
  });
  const d = (p: ReturnType<typeof run>, tool: string, args: unknown) => pdp.decide(req(p, tool, args), ctx());
  assert.deepEqual(d(run('p'), 'fs.read', { path: '/srv/cert.pem' }).policies, ['no-keys']);
  assert.equal(d(run('p'), 'fs.read', { path: '/srv/cert.txt' }).effect, 'allow');
  assert.equal(d(run('p'), 'fs.read', { path: '/srv/cert.txt', follow: true }).effect, 'deny', 'any argument, through argsJson');
  assert.equal(d(run('p'), 'http.fetch', { url: 'https://api.example.com/' }).effect, 'allow');
  assert.deepEqual(d(run('p'), 'http.fetch', { url: 'https://api.example.net/' }).policies, ['hosts']);
  assert.deepEqual(d(run('p'), 'http.fetch', { url: 'https://api.example.com/', method: 'POST' }).policies, ['get-only']);
  assert.deepEqual(d(run('p'), 'exec.run', { argv: ['/bin/sh', '-c', 'x'] }).policies, ['no-shell']);
  assert.equal(d(run('p'), 'exec.run', { argv: ['ls'] }).tier, 'config');
  // registered agents: roles are parents, trust level and capabilities are attributes
  const ops = agent('ops-bot', { roles: ['ops'], trustLevel: 'trusted', capabilities: ['exec'] });
  assert.deepEqual(d(ops, 'exec.run', { argv: ['ls'] }).policies, ['ops-role']);
  assert.equal(d({ ...ops, trustLevel: 'limited' }, 'exec.run', { argv: ['ls'] }).effect, 'deny', 'the cache keys on the principal attributes');
  assert.equal(d({ ...ops, roles: [] }, 'exec.run', { argv: ['ls'] }).effect, 'deny');
  assert.deepEqual(d(ops, 'exec.run', { argv: ['/bin/sh'] }).policies, ['no-shell'], 'forbid beats the permit in the same tier');
});

test('a registered agent that names a profile gets that profile’s config grants', () => {
  const { pdp } = pdpFor({ agents: { tools: { tools: { allow: ['system.time'] } } } });
  assert.equal(pdp.decide(req(agent('bot', { profile: 'tools' }), 'system.time'), ctx()).effect, 'allow');
  assert.equal(pdp.decide(req(agent('bot'), 'system.time'), ctx()).effect, 'deny');
});

test('a trailing dot names the same host: a hosts deny rule is not bypassed by "evil.good.org." (config tier and allow-list)', async () => {
  const raw = { agents: { p: { tools: { allow: ['http.fetch'], deny: [{ tool: 'http.fetch', hosts: ['evil.good.org'] }] } } } };
  const { pdp } = pdpFor(raw);
  const oracle = new AllowListDecisionPoint(() => parseConfig(raw).agents);
  for (const url of ['https://evil.good.org./x', 'https://EVIL.good.org./', 'http://evil.good.org.:8080/']) {
    assert.equal((await pdp.decide(req(run('p'), 'http.fetch', { url }), ctx())).effect, 'deny', url);
    assert.equal(oracle.decide(req(run('p'), 'http.fetch', { url })).effect, 'deny', url);
  }
  assert.equal((await pdp.decide(req(run('p'), 'http.fetch', { url: 'https://ok.good.org./' }), ctx())).effect, 'allow');
});
