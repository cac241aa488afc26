import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
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
   // fd 3 is a plain socket pair: newline-delimited JSON here (the runtime frames its own protocol).
   const ch = new net.Socket({ fd: 3, readable: true, writable: true });
   const send = (m) => ch.write(JSON.stringify(m) + '\\n');
   let buf = '';
   ch.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); onMessage(JSON.parse(line)); } });
   function onMessage(m) {
     if (m.cmd === 'exit') return process.exit(0);
     const tryRead = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch (e) { return e.code; } };
     const s = net.connect(m.port, '127.0.0.1');
     s.on('connect', () => reply('CONNECTED')).on('error', (e) => reply(e.code));
     function reply(net) {
       let wrote; try { fs.writeFileSync(process.cwd() + '/from-agent.txt', 'hi'); wrote = 'ok'; } catch (e) { wrote = e.code; }
       send({ echo: m.echo, uid: process.getuid(), env: Object.keys(process.env).sort(), ipc: typeof process.send, state: tryRead(${JSON.stringify(path.join(state, 'key'))}), shadow: tryRead('/etc/shadow'), net, wrote, cwd: process.cwd() });
     }
   }
   send({ ready: true });`,
);
process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));

/** The next newline-delimited JSON message on the child's fd 3. */
function once<T>(child: ChildProcess): Promise<T> {
  const ch = child.stdio[3] as Readable & { _cgBuf?: string };
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      ch._cgBuf = (ch._cgBuf ?? '') + d.toString();
      const i = ch._cgBuf.indexOf('\n');
      if (i < 0) return;
      const line = ch._cgBuf.slice(0, i);
      ch._cgBuf = ch._cgBuf.slice(i + 1);
      ch.off('data', onData);
      resolve(JSON.parse(line) as T);
    };
    ch.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, sig) => reject(new Error(`child exited early (${code ?? sig})`)));
  });
}
const tell = (child: ChildProcess, m: unknown) => (child.stdio[3] as Writable).write(`${JSON.stringify(m)}\n`);

test('spawnSandboxedNode: a plain socket on fd 3 (never Node IPC) survives bwrap; the script is isolated like exec', async (t) => {
  const bw = detectBubblewrap();
  if (!bw.path) return t.skip(`bubblewrap not installed: ${bw.reason}`);
  process.env.CLAWGUARD_PROC_SECRET = TOKEN;
  const child = spawnSandboxedNode({ script: path.join(scripts, 'agent.cjs'), workspace: ws, hiddenPaths: [state, '/etc'], envAllow: ['LANG'] });
  try {
    const stderr: Buffer[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d));
    assert.deepEqual(await once(child), { ready: true }, Buffer.concat(stderr).toString());
    tell(child, { cmd: 'probe', echo: 'ping', port: 9 });
    const r = await once<Record<string, unknown>>(child);
    assert.equal(r.echo, 'ping');
    assert.equal(r.uid, 65534);
    assert.equal(r.state, 'ENOENT', 'the state dir is not mounted');
    assert.equal(r.shadow, 'ENOENT');
    assert.match(String(r.net), /ECONNREFUSED|ENETUNREACH/);
    assert.equal(r.wrote, 'ok');
    assert.equal(r.cwd, ws);
    assert.ok(!(r.env as string[]).includes('CLAWGUARD_PROC_SECRET'));
    assert.ok(!(r.env as string[]).some((k) => k.startsWith('NODE_CHANNEL')), 'no NODE_CHANNEL_FD: no Node IPC inside');
    assert.equal(r.ipc, 'undefined', 'process.send does not exist inside');
    assert.equal(fs.readFileSync(path.join(ws, 'from-agent.txt'), 'utf8'), 'hi');
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGKILL');
    await exited;
  } finally {
    delete process.env.CLAWGUARD_PROC_SECRET;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('spawnSandboxedNode in mode "off" still gets the fd 3 socket and no IPC (no isolation by explicit choice)', async () => {
  const child = spawnSandboxedNode({ script: path.join(scripts, 'agent.cjs'), workspace: ws, mode: 'off' });
  assert.deepEqual(await once(child), { ready: true });
  const exited = new Promise((res) => child.once('exit', res));
  tell(child, { cmd: 'exit' });
  assert.equal(await exited, 0);
  assert.throws(() => spawnSandboxedNode({ script: 'relative.js' }), { code: 'bad_request' });
});
