import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { detectBubblewrap, spawnSandboxedNode } from '../../src/sandbox/index.js';

const TOKEN = `PROC-CANARY-${process.pid}`;
const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cg-proc-')));
const scripts = path.join(base, 'scripts');
const ws = path.join(base, 'ws');
const state = path.join(base, 'state');
for (const d of [scripts, ws, state]) fs.mkdirSync(d, { recursive: true });
fs.writeFileSync(path.join(state, 'key'), TOKEN);
fs.writeFileSync(
  path.join(scripts, 'agent.cjs'),
  `const fs = require('fs'); const net = require('net');
   process.on('message', (m) => {
     if (m.cmd === 'exit') return process.exit(0);
     const tryRead = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch (e) { return e.code; } };
     const s = net.connect(m.port, '127.0.0.1');
     s.on('connect', () => reply('CONNECTED')).on('error', (e) => reply(e.code));
     function reply(net) {
       let wrote; try { fs.writeFileSync(process.cwd() + '/from-agent.txt', 'hi'); wrote = 'ok'; } catch (e) { wrote = e.code; }
       process.send({ echo: m.echo, uid: process.getuid(), env: Object.keys(process.env).sort(), state: tryRead(${JSON.stringify(path.join(state, 'key'))}), shadow: tryRead('/etc/shadow'), net, wrote, cwd: process.cwd() });
     }
   });
   process.send({ ready: true });`,
);
process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));

function once<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('error', reject);
    child.once('exit', (code, sig) => reject(new Error(`child exited early (${code ?? sig})`)));
  });
}

test('spawnSandboxedNode: IPC over fd 3 survives bwrap; the script is isolated like exec', async (t) => {
  const bw = detectBubblewrap();
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  process.env.CLAWGUARD_PROC_SECRET = TOKEN;
  const child = spawnSandboxedNode({ script: path.join(scripts, 'agent.cjs'), workspace: ws, hiddenPaths: [state, '/etc'], envAllow: ['LANG'] });
  try {
    const stderr: Buffer[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d));
    assert.deepEqual(await once(child), { ready: true }, Buffer.concat(stderr).toString());
    child.send({ cmd: 'probe', echo: 'ping', port: 9 });
    const r = await once<Record<string, unknown>>(child);
    assert.equal(r.echo, 'ping');
    assert.equal(r.uid, 65534);
    assert.equal(r.state, 'ENOENT', 'the state dir is not mounted');
    assert.equal(r.shadow, 'ENOENT');
    assert.match(String(r.net), /ECONNREFUSED|ENETUNREACH/);
    assert.equal(r.wrote, 'ok');
    assert.equal(r.cwd, ws);
    assert.ok(!(r.env as string[]).includes('CLAWGUARD_PROC_SECRET'));
    assert.equal(fs.readFileSync(path.join(ws, 'from-agent.txt'), 'utf8'), 'hi');
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGKILL');
    await exited;
  } finally {
    delete process.env.CLAWGUARD_PROC_SECRET;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('spawnSandboxedNode in mode "off" still speaks IPC (no isolation by explicit choice)', async () => {
  const child = spawnSandboxedNode({ script: path.join(scripts, 'agent.cjs'), workspace: ws, mode: 'off' });
  assert.deepEqual(await once(child), { ready: true });
  const exited = new Promise((res) => child.once('exit', res));
  child.send({ cmd: 'exit' });
  assert.equal(await exited, 0);
  assert.throws(() => spawnSandboxedNode({ script: 'relative.js' }), { code: 'bad_request' });
});
