/** One gateway per state dir through the real `clawguard start`, and reaching a gateway by --url / CLAWGUARD_URL. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';
import { assertNoStack, cli, cliAsync, startGatewayProcess, stopProcess } from './spawn-cli.js';

const healthy = async (url: string) => (await fetch(`${url}/healthz`)).status === 200;
const urlOf = (state: string) => (JSON.parse(readFileSync(join(state, 'gateway.json'), 'utf8')) as { url: string }).url;

test('a second start on the same state dir exits 1 naming the pid that holds it; the lock goes at stop; a stale one is taken over', async () => {
  const home = tempDir('cg-home-');
  const state = join(home, '.clawguard');
  const first = await startGatewayProcess(home);
  try {
    const second = cli(['start', '--port', '0'], { cwd: tempDir(), home });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`another gateway \\(pid ${first.pid}, started .*\\) holds ${join(state, 'gateway.lock')}`));
    assertNoStack(second, 'second start');
    assert.ok(await healthy(urlOf(state)), 'the first gateway still answers');
    assert.equal(JSON.parse(readFileSync(join(state, 'gateway.lock'), 'utf8')).pid, first.pid, 'the refused start left the lock alone');
  } finally {
    await stopProcess(first);
  }
  assert.equal(first.exitCode, 0);
  assert.equal(existsSync(join(state, 'gateway.lock')), false, 'released at stop');
  // A gateway that died without stopping left its lock: the next start takes it over and says so.
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  writeFileSync(join(state, 'gateway.lock'), JSON.stringify({ pid: dead, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', nonce: 'crashed' }), { mode: 0o600 });
  const again = await startGatewayProcess(home);
  try {
    assert.match(again.outputText(), new RegExp(`took over .*gateway\\.lock from pid ${dead}`));
    assert.ok(await healthy(urlOf(state)));
  } finally {
    await stopProcess(again);
  }
  assert.equal(again.exitCode, 0);
});

test('--url and CLAWGUARD_URL reach a gateway from anywhere; a wrong one fails clearly, without a stack trace or a local fallback', async () => {
  const home = tempDir('cg-home-');
  const state = join(home, '.clawguard');
  const gw = await startGatewayProcess(home);
  const url = urlOf(state);
  const token = readFileSync(join(state, 'operator.token'), 'utf8').trim();
  const elsewhere = tempDir('cg-elsewhere-'); // another HOME: no state dir, no gateway.json
  // A server that is not a gateway: an HTML page for every path.
  const impostor = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not here</html>'));
  await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
  const impostorUrl = `http://127.0.0.1:${(impostor.address() as { port: number }).port}`;
  try {
    const byFlag = await cliAsync(['--url', url, 'status', '--json'], { home: elsewhere, env: { CLAWGUARD_TOKEN: token } });
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.equal(JSON.parse(byFlag.stdout).gateway.pid, gw.pid);
    const byEnv = await cliAsync(['runs', 'list', '--json'], { home: elsewhere, env: { CLAWGUARD_URL: `${url}/`, CLAWGUARD_TOKEN: token } });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.ok(Array.isArray(JSON.parse(byEnv.stdout).runs));
    // the state dir's own token goes to a loopback --url
    const stateToken = await cliAsync(['--state-dir', state, '--url', url, 'status', '--json'], { home: elsewhere });
    assert.equal(stateToken.code, 0, stateToken.stderr);
    // --url beats CLAWGUARD_URL
    const both = await cliAsync(['--url', url, 'status', '--json'], { home: elsewhere, env: { CLAWGUARD_URL: 'http://127.0.0.1:1', CLAWGUARD_TOKEN: token } });
    assert.equal(both.code, 0, both.stderr);

    const rnd = mulberry32(1814);
    const junk = Array.from({ length: 5 }, () => Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => String.fromCharCode(33 + Math.floor(rnd() * 94))).join(''));
    const wrong: Array<{ args: string[]; env?: Record<string, string>; code: number; err: RegExp }> = [
      { args: ['--url', 'http://127.0.0.1:1', 'status'], env: { CLAWGUARD_TOKEN: 't' }, code: 1, err: /cannot reach the gateway at http:\/\/127\.0\.0\.1:1/ },
      { args: ['--url', 'http://127.0.0.1:1', 'status'], code: 1, err: /no operator token: set CLAWGUARD_TOKEN/ },
      { args: ['--url', 'http://127.0.0.1:1', '--state-dir', state, 'secrets', 'list'], code: 1, err: /cannot reach the gateway/ },
      { args: ['--url', impostorUrl, 'status'], env: { CLAWGUARD_TOKEN: 't' }, code: 1, err: /did not answer as a clawguard gateway \(HTTP 200, text\/html\)/ },
      { args: ['--url', 'not a url', 'status'], code: 2, err: /--url: not a URL/ },
      { args: ['--url', 'ftp://127.0.0.1/', 'status'], code: 2, err: /expected an http:\/\/ or https:\/\/ URL/ },
      { args: ['--url', 'http://user:pw@127.0.0.1:9/', 'status'], code: 2, err: /credentials in the URL/ },
      { args: ['--url', 'http://gateway.example:18780', 'status'], env: { CLAWGUARD_TOKEN: 't' }, code: 2, err: /refusing to send the operator token in clear text/ },
      { args: ['--state-dir', state, '--url', 'https://gateway.example:18780', 'status'], code: 1, err: /no operator token for gateway\.example:18780: set CLAWGUARD_TOKEN/ },
      { args: ['status'], env: { CLAWGUARD_URL: `http://127.0.0.1:${'9'.repeat(100_000)}` }, code: 2, err: /CLAWGUARD_URL: not a URL/ },
      ...junk.map((j) => ({ args: ['--url', j, 'status'], code: 2, err: /--url: (not a URL|expected an http|credentials|refusing)/ })),
    ];
    for (const w of wrong) {
      const r = await cliAsync(w.args, { home: elsewhere, ...(w.env ? { env: w.env } : {}) });
      const what = `${w.args.join(' ').slice(0, 120)} ${JSON.stringify(w.env ?? {}).slice(0, 80)}`;
      assert.equal(r.code, w.code, `${what}: ${r.stderr.slice(0, 500)}`);
      assert.match(r.stderr, w.err, what);
      assertNoStack(r, what);
      assert.ok(await healthy(url), `the gateway still answers after ${what}`);
    }
    assert.equal(existsSync(join(elsewhere, '.clawguard')), false, 'no state created by any of them');
  } finally {
    impostor.close();
    await stopProcess(gw);
  }
  assert.equal(gw.exitCode, 0);
});
