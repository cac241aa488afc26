/**
 * Shutdown with clients attached: idle keep-alive, connected but silent, headers half sent, and a
 * request in flight that will not finish. Before, the gateway waited for them (74 s and more);
 * now idle ones are closed at once, and what is still in flight at the end of the grace period
 * gets our own 503 `unavailable`. The CLI exits on SIGTERM likewise.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { startGateway, tempDir, waitFor } from '../helpers/gateway.js';

async function socket(port: number, data: string): Promise<{ closed: () => boolean; got: () => string; s: net.Socket }> {
  const s = net.connect(port, '127.0.0.1');
  let closed = false;
  let got = '';
  s.on('data', (d) => (got += d));
  s.on('close', () => (closed = true));
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('connect', () => r()));
  if (data) s.write(data);
  return { closed: () => closed, got: () => got, s };
}

/** Resolves with how long `p` took, or rejects when it takes longer than `ms` (it hung). */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<number> {
  const t0 = Date.now();
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms)))]);
  clearTimeout(t);
  return Date.now() - t0;
}

test('stop closes idle, silent and half-sent connections at once, and answers a request still in flight with 503 unavailable', async () => {
  let hung = false;
  const g = await startGateway(
    {
      agents: { anonymous: { tools: { allow: ['test.hang'] }, warmPool: 0 } },
      security: { zeroTrust: { enabled: true, policies: { agentCommunication: { requireAuthentication: false } } } },
    },
    { extraTools: ['test.hang'] },
  );
  g.gw.tools.register({ name: 'test.hang', description: 'never returns (test)', args: { safeParse: (v: unknown) => ({ success: true, data: v }) } as never, execute: () => ((hung = true), new Promise(() => undefined)) });
  const port = Number(new URL(g.url).port);
  const idle = await socket(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => idle.got().includes('"status"'));
  const silent = await socket(port, '');
  const partial = await socket(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const inFlight = request(`${g.url}/v1/tools/test.hang`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  await waitFor(() => hung);
  const stopping = g.gw.stop(500);
  await waitFor(() => idle.closed() && silent.closed() && partial.closed(), 2000);
  const r = await inFlight;
  assert.equal(r.statusCode, 503);
  assert.deepEqual(await r.body.json(), { error: { code: 'unavailable', message: 'the gateway is shutting down' } });
  await within(10_000, stopping, 'stop');
  await g.close();
});

test('SIGTERM: the CLI gateway exits promptly with an idle keep-alive client and a silent one attached', async () => {
  const dir = tempDir('cg-sigterm-');
  const state = join(dir, 'state');
  const child = spawn(process.execPath, ['--no-node-snapshot', resolve('bin/clawguard.js'), '--state-dir', state, 'start', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CLAWGUARD_LOG_LEVEL: 'warn' } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor(() => existsSync(join(state, 'gateway.json')) || child.exitCode !== null, 30_000);
    assert.equal(child.exitCode, null, err);
    const { url } = JSON.parse(readFileSync(join(state, 'gateway.json'), 'utf8')) as { url: string };
    const port = Number(new URL(url).port);
    const idle = await socket(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => idle.got().includes('"status"'));
    await socket(port, '');
    child.kill('SIGTERM');
    await within(15_000, exited, 'the gateway process');
    assert.equal(await exited, 0, err);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
