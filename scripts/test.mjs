// Runs every compiled test file under node's built-in test runner, with c8 line coverage of src/.
// Usage: node scripts/test.mjs [substring-filter ...]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk('dist/test').sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(2);
}
const coverage = filters.length === 0 && process.env.CLAWGUARD_NO_COVERAGE !== '1';
// spec for people, tap to a file so the closing summary line can be printed last (after coverage).
const tapFile = join(mkdtempSync(join(tmpdir(), 'cg-tap-')), 'results.tap');
const nodeArgs = ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, '--test-concurrency=2', ...files];
const cmd = coverage
  ? ['node_modules/.bin/c8', '--check-coverage', '--lines', '80', '--reporter=text-summary', '--reporter=json-summary',
     '--include', 'src/**', '--exclude', 'test/**', '--exclude', 'bench/**', '--exclude-after-remap', process.execPath, ...nodeArgs]
  : [process.execPath, ...nodeArgs];
// isolated-vm needs --no-node-snapshot on Node >= 20 (without it, exit can abort in its environment teardown).
// --expose-gc: test helpers collect disposed isolates' handles before exit (see test/helpers/gateway.ts).
const nodeOptions = [process.env.NODE_OPTIONS, '--no-node-snapshot', '--expose-gc'].filter(Boolean).join(' ');
const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: nodeOptions, CLAWGUARD_TEST: '1' } });
let tap = '';
try {
  tap = readFileSync(tapFile, 'utf8');
} catch {
  /* the runner did not start */
}
const count = (k) => Number((new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tap) ?? [])[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
const skipped = count('skipped');
if (r.status !== 0 && failed === 0) console.log(`coverage or runner failure (exit ${r.status})`);
rmSync(dirname(tapFile), { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status ?? 1);
