/** Where a user finds things: the default state dir under HOME, the config search order, read-only commands that create nothing. */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findConfigFile } from '../../src/config/index.js';
import { resolveStateDir } from '../../src/store/index.js';
import { tempDir } from '../helpers/gateway.js';
import { assertNoStack, cli } from './spawn-cli.js';

test('resolveStateDir: --state-dir, then CLAWGUARD_STATE_DIR, then ~/.clawguard (never the cwd)', () => {
  const home = '/home/u';
  assert.equal(resolveStateDir(undefined, {}, '/work', home), '/home/u/.clawguard');
  assert.equal(resolveStateDir(undefined, { CLAWGUARD_STATE_DIR: '' }, '/work', home), '/home/u/.clawguard', 'an empty variable is unset, not the cwd');
  assert.equal(resolveStateDir(undefined, { CLAWGUARD_STATE_DIR: 'st' }, '/work', home), '/work/st');
  assert.equal(resolveStateDir('/x/y', { CLAWGUARD_STATE_DIR: 'st' }, '/work', home), '/x/y');
});

test('init from any directory creates ~/.clawguard (0700, token 0600) and writes ./clawguard.json; no ./.clawguard', () => {
  const home = tempDir('cg-home-');
  const work = tempDir('cg-work-');
  const r = cli(['init'], { cwd: work, home });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`state dir ${join(home, '.clawguard')} `));
  assert.equal(statSync(join(home, '.clawguard')).mode & 0o777, 0o700);
  assert.equal(statSync(join(home, '.clawguard', 'operator.token')).mode & 0o777, 0o600);
  assert.ok(statSync(join(work, 'clawguard.json')).isFile());
  assert.deepEqual(readdirSync(work), ['clawguard.json'], 'nothing but the config in the cwd');
  // CLAWGUARD_STATE_DIR beats HOME; --state-dir beats the variable
  const other = join(tempDir(), 'via-env');
  assert.equal(cli(['init', '--force'], { cwd: work, home, env: { CLAWGUARD_STATE_DIR: other } }).code, 0);
  assert.ok(statSync(join(other, 'operator.token')).isFile());
  const flag = join(tempDir(), 'via-flag');
  assert.equal(cli(['init', '--force', '--state-dir', flag], { cwd: work, home, env: { CLAWGUARD_STATE_DIR: other } }).code, 0);
  assert.ok(statSync(join(flag, 'operator.token')).isFile());
});

test('config search order: --config, CLAWGUARD_CONFIG, ./clawguard.json, ~/.clawguard/clawguard.json, else the embedded defaults', () => {
  const home = tempDir('cg-home-');
  const work = tempDir('cg-work-');
  mkdirSync(join(home, '.clawguard'), { mode: 0o700 });
  // Each candidate is invalid in the same way: the error names the file the CLI picked.
  const bad = '{"agents": {"a": {"timeout": -1}}}';
  const files = { flag: join(tempDir(), 'flag.json'), env: join(tempDir(), 'env.json'), cwd: join(work, 'clawguard.json'), home: join(home, '.clawguard', 'clawguard.json') };
  for (const f of Object.values(files)) writeFileSync(f, bad);
  const picked = (args: string[], env: Record<string, string> = {}) => {
    const r = cli([...args, 'policy', 'list'], { cwd: work, home, env });
    assertNoStack(r, args.join(' '));
    return r.code === 0 ? '(defaults)' : /^clawguard: (\S+): 1 problem/m.exec(r.stderr)?.[1] ?? r.stderr;
  };
  assert.equal(picked(['--config', files.flag], { CLAWGUARD_CONFIG: files.env }), files.flag);
  assert.equal(picked([], { CLAWGUARD_CONFIG: files.env }), files.env);
  assert.equal(picked([]), files.cwd);
  assert.equal(findConfigFile(undefined, {}, work, home), files.cwd);
  rmSync(files.cwd); // without a ./clawguard.json the home one applies, whatever the cwd
  assert.equal(picked([]), files.home);
  assert.equal(findConfigFile(undefined, {}, work, home), files.home);
  rmSync(files.home);
  assert.equal(picked([]), '(defaults)');
  assert.equal(findConfigFile(undefined, {}, work, home), undefined);
});

test('read-only commands create no state dir or database: they say so plainly and exit non-zero, or answer "nothing here"', () => {
  const home = tempDir('cg-home-');
  const work = tempDir('cg-work-');
  const withSecret = join(work, 'with-secret.json');
  writeFileSync(withSecret, JSON.stringify({ secrets: { k: { source: 'env', env: 'CG_UP_K', agents: ['x'] } } }));
  const state = join(home, '.clawguard');
  const cases: Array<{ args: string[]; code: number; out?: RegExp; err?: RegExp }> = [
    { args: ['secrets', 'list'], code: 0, out: /no secrets configured/ },
    { args: ['--config', withSecret, 'secrets', 'list'], code: 1, err: new RegExp(`no clawguard state in ${state}`) },
    { args: ['status'], code: 1, err: /no running gateway found in .*\.clawguard/ },
    { args: ['audit', 'verify'], code: 1, err: /no audit log/ },
    { args: ['audit', 'tail'], code: 1, err: /no audit log/ },
    { args: ['audit', 'export'], code: 1, err: /no audit log/ },
    { args: ['runs', 'list'], code: 1, err: /no running gateway found/ },
    { args: ['runs', 'show', 'r_1'], code: 1, err: /no running gateway found/ },
    { args: ['policy', 'explain', '--agent', 'demo', '--action', 'system.time'], code: 0, out: /ALLOW/ },
    { args: ['policy', 'check'], code: 0, out: /no directory .*policies/ },
    { args: ['policy', 'list'], code: 0 },
    { args: ['config', 'check', withSecret], code: 0, out: /valid/ },
  ];
  for (const c of cases) {
    for (const where of [[], ['--state-dir', join(work, 'named-state')]]) {
      const r = cli([...where, ...c.args], { cwd: work, home });
      const what = [...where, ...c.args].join(' ');
      assert.equal(r.code, c.code, `${what}: ${r.stderr}`);
      if (c.out) assert.match(r.stdout, c.out, what);
      if (c.err && !where.length) assert.match(r.stderr, c.err, what);
      assertNoStack(r, what);
      assert.deepEqual(readdirSync(home), [], `${what} created something in HOME`);
      assert.deepEqual(readdirSync(work).sort(), ['with-secret.json'], `${what} created something in the cwd`);
    }
  }
});
