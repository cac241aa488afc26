/**
 * Config rules on canonical arguments: `paths` globs (dotfiles, dir/**, relative and ~ patterns),
 * `commands` (bare names on the fixed PATH) and `argv` patterns decide the same in the Cedar config tier
 * and the allow-list PDP (fixed-seed differential), and the config refuses what could never work.
 */
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { AllowListDecisionPoint } from '../../src/pipeline/index.js';
import { matchArgv } from '../../src/policy/globs.js';
import { SANDBOX_PATH_DIRS } from '../../src/sandbox/index.js';
import { mulberry32 } from '../helpers/prng.js';
import { ctx, pdpFor, req, run } from './helpers.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
}

test('argv patterns: one element per argument, * and ? within it, ** for any number of arguments', () => {
  const m = (args: string[], p: string[]) => matchArgv(args, p);
  assert.equal(m(['status'], ['status']), true);
  assert.equal(m(['status', '-s'], ['status']), false);
  assert.equal(m([], []), true);
  assert.equal(m(['log'], ['log', '**']), true);
  assert.equal(m(['log', 'a', 'b/c'], ['log', '**']), true);
  assert.equal(m(['-c', 'alias.x=!id', 'x'], ['log', '**']), false);
  assert.equal(m(['origin/main'], ['*']), true, '* crosses slashes inside one argument');
  assert.equal(m(['a', 'b'], ['*']), false, '* never spans two arguments');
  assert.equal(m(['--depth=1', 'x'], ['--depth=?', '**']), true);
  assert.equal(m(['*'], ['\\*']), true);
  assert.equal(m(['x'], ['\\*']), false);
  assert.equal(m(['a', 'x', 'y', 'b'], ['a', '**', 'b']), true);
  assert.equal(m(['a', 'x', 'y'], ['a', '**', 'b']), false);
  assert.equal(m(['(.*)'], ['(.*)']), true, 'regexp syntax is literal');
  assert.equal(m(['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab'], ['*a*a*a*a*a*a*a*a*a*a*c']), false);
  const many = Array.from({ length: 1024 }, (_, i) => String(i));
  assert.equal(m(many, ['**', '**', '**', '1023']), true, 'memoised: no blow-up on long vectors');
});

test('config tier and allow-list agree on paths, commands and argv (fixed-seed differential, 4,000 calls)', () => {
  const raw = {
    agents: {
      p: {
        workspace: '/ws',
        tools: {
          allow: [
            { tool: 'fs.*', paths: ['/ws/**'] },
            { tool: 'exec.run', commands: ['git'], argv: [['status'], ['log', '**'], ['diff', '*', '--stat']] },
            { tool: 'exec.run', commands: ['/bin/ls'] },
            { tool: 'exec.run', argv: [['--version']] },
          ],
          deny: [{ tool: 'fs.*', paths: ['secrets/**', '**/.env', '~/.ssh/**'] }, { tool: 'exec.run', commands: ['sh'], argv: [['**']] }],
        },
      },
    },
  };
  const { pdp } = pdpFor(raw);
  const oracle = new AllowListDecisionPoint(() => parseConfig(raw).agents);
  const rnd = mulberry32(4242);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const paths = ['/ws', '/ws/a', '/ws/.env', '/ws/x/.env', '/ws/secrets', '/ws/secrets/.k', '/ws/secrets/a/b', '/ws/secretsX', `${homedir()}/.ssh/id`, `${homedir()}/.ssh`, '/etc/passwd', '/ws/.git/config'];
  const cmds = ['git', ...SANDBOX_PATH_DIRS.map((d) => `${d}/git`), '/ws/bin/git', '/bin/ls', '/usr/bin/ls', 'ls', 'sh', '/bin/sh', '/usr/bin/sh', 'nosuchcommand'];
  const args = [[], ['status'], ['status', '-s'], ['log'], ['log', '-p'], ['diff', 'HEAD', '--stat'], ['diff', 'a', 'b', '--stat'], ['--version'], ['-c', 'alias.x=!id', 'x']];
  let allows = 0;
  for (let i = 0; i < 4000; i++) {
    const fs = rnd() < 0.5;
    const tool = fs ? pick(['fs.read', 'fs.write', 'fs.list', 'fs.stat']) : 'exec.run';
    const a = fs ? { path: pick(paths) } : { argv: [pick(cmds), ...pick(args)] };
    const want = oracle.decide(req(run('p'), tool, a));
    const got = pdp.decide(req(run('p'), tool, a), ctx());
    assert.equal(got.effect, want.effect, `${tool} ${JSON.stringify(a)}: cedar ${JSON.stringify(got)} vs allow-list ${JSON.stringify(want)}`);
    // The allow-list names the first rule that decides; Cedar names every one that does.
    if (want.tier === 'config') assert.ok(got.policies.includes(want.policies[0]!), `${tool} ${JSON.stringify(a)}: ${got.policies} vs ${want.policies}`);
    if (got.effect === 'allow') allows++;
  }
  assert.ok(allows > 400 && allows < 3600, `a mix (${allows} allows)`);
  // The cases the issue names, by value.
  const d = (tool: string, a: unknown) => pdp.decide(req(run('p'), tool, a), ctx()).effect;
  assert.equal(d('fs.read', { path: '/ws/secrets/.env' }), 'deny', 'a relative deny pattern means the workspace, and covers dotfiles');
  assert.equal(d('fs.list', { path: '/ws/secrets' }), 'deny', 'dir/** covers dir');
  assert.equal(d('fs.read', { path: '/ws/a' }), 'allow');
  assert.equal(d('exec.run', { argv: ['/usr/bin/git', 'status'] }), 'allow', 'bare "git" stands for git on the fixed PATH');
  assert.equal(d('exec.run', { argv: ['/ws/bin/git', 'status'] }), 'deny');
  assert.equal(d('exec.run', { argv: ['/usr/bin/git', '-c', 'alias.x=!id', 'x'] }), 'deny');
});

test('config: glob blockedPaths, relative roots, code-loading agentEnv and relative commands are refused with the key path', () => {
  assert.deepEqual(problems({ sandbox: { fileAccess: { blockedPaths: ['/ws/*.pem'] } } }).length, 1);
  assert.match(problems({ sandbox: { fileAccess: { blockedPaths: ['/ws/*.pem'] } } })[0]!, /^sandbox\.fileAccess\.blockedPaths\[0\]: .*is a glob/);
  assert.match(problems({ sandbox: { fileAccess: { blockedPaths: ['/ws/{a,b}'] } } })[0]!, /is a glob/);
  assert.match(problems({ sandbox: { fileAccess: { allowedPaths: ['relative/dir'] } } })[0]!, /allowedPaths\[0\]: .*absolute/);
  assert.deepEqual(problems({ sandbox: { fileAccess: { blockedPaths: ['~/.ssh', '/ws/a[1]x'] } } }).length, 1, '~ is fine; a bracket class is a glob');
  for (const bad of ['LD_PRELOAD', 'PATH', 'NODE_OPTIONS', 'PYTHONPATH', 'GIT_SSH_COMMAND', 'BASH_ENV', 'PERL5LIB', 'GCONV_PATH']) {
    const p = problems({ sandbox: { exec: { agentEnv: ['LANG', bad] } } });
    assert.equal(p.length, 1, bad);
    assert.match(p[0]!, new RegExp(`^sandbox\\.exec\\.agentEnv\\[1\\]: ${bad} may never be set by agents`));
  }
  assert.deepEqual(problems({ sandbox: { exec: { agentEnv: ['LANG', 'MY_FLAG'] } } }), []);
  assert.match(problems({ agents: { p: { tools: { allow: [{ tool: 'exec.run', commands: ['bin/git'] }] } } } })[0]!, /commands\[0\]: expected an absolute path or a bare command name/);
  assert.match(problems({ agents: { p: { tools: { deny: [{ tool: 'fs.*', paths: ['secrets/**'] }] } } } })[0]!, /^agents\.p\.tools\.deny\[0\]\.paths\[0\]: "secrets\/\*\*" is relative and the profile has no workspace/);
  const c = parseConfig({ agents: { p: { workspace: '/ws', tools: { deny: [{ tool: 'fs.*', paths: ['secrets/**', '~/.aws/**', '**/.env', '/abs/**'] }] } } } });
  assert.deepEqual(c.agents.p!.tools.deny[0]!.paths, ['/ws/secrets/**', `${homedir()}/.aws/**`, '**/.env', '/abs/**']);
});
