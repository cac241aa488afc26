import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectBubblewrap } from '../../src/sandbox/index.js';
import { type TestGateway, startGateway, tempDir, waitFor, writeAgent } from '../helpers/gateway.js';
import { sandboxedChildren } from '../helpers/processes.js';

const bwrap = detectBubblewrap();
const skip = !bwrap.available && `bubblewrap not available: ${bwrap.reason}`;

describe('process isolation (bubblewrap child per run)', { skip }, () => {
  const dir = tempDir('cg-proc-');
  let g: TestGateway;
  let secretFile: string;
  let listener: ReturnType<typeof createServer>;
  let port = 0;
  let connections = 0;

  before(async () => {
    listener = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    port = (listener.address() as { port: number }).port;
    const A = (n: string, c: string) => writeAgent(dir, n, c);
    g = await startGateway({
      agents: {
        hello: { isolation: 'process', entry: A('hello.js', `export default async (input, ctx) => { const t = await ctx.tools.call('system.time', {}); return { pid: process.pid, t: t.ok, input }; }`), tools: { allow: ['system.time'] } },
        escape: {
          isolation: 'process',
          entry: A('escape.js', `
            import fs from 'node:fs';
            import net from 'node:net';
            export default async (input) => {
              const r = {};
              const tryRead = (p) => { try { return 'READ ' + fs.readFileSync(p, 'utf8').slice(0, 40); } catch (e) { return 'failed: ' + e.code; } };
              r.stateDir = tryRead(input.stateFile);
              r.shadow = tryRead('/etc/shadow');
              r.ssh = tryRead('/root/.ssh/id_rsa');
              r.writeOutside = (() => { try { fs.writeFileSync(input.outside, 'pwned'); return 'WROTE'; } catch (e) { return 'failed: ' + e.code; } })();
              r.env = Object.keys(process.env).filter((k) => /TOKEN|KEY|SECRET|CLAWGUARD/.test(k));
              r.socket = await new Promise((res) => {
                const s = net.connect(input.port, '127.0.0.1');
                s.on('connect', () => { s.destroy(); res('CONNECTED'); });
                s.on('error', (e) => res('failed: ' + e.code));
                setTimeout(() => res('failed: timeout'), 2000);
              });
              r.killParent = (() => { try { process.kill(process.ppid, 'SIGKILL'); return 'sent to ' + process.ppid; } catch (e) { return 'failed: ' + e.code; } })();
              return r;
            };`),
        },
        spin: { isolation: 'process', timeout: 1, entry: A('spin.js', `export default async () => { for (;;) {} }`) },
        bomb: { isolation: 'process', memoryMb: 48, timeout: 30, entry: A('bomb.js', `export default async () => { const a = []; for (;;) a.push(new Array(100000).fill(a.length)); }`) },
        crash: { isolation: 'process', entry: A('crash.js', `export default async () => { setTimeout(() => { throw new Error('async boom'); }, 1); await new Promise((r) => setTimeout(r, 1000)); return 'unreachable'; }`) },
      },
    });
    secretFile = join(g.dir, 'state', 'operator.token');
  });
  after(async () => {
    await g?.close();
    listener?.close();
  });

  const run = async (profile: string, input: unknown = null) => {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile, input });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };

  test('a run executes in its own PID namespace and calls tools over its framed channel', async () => {
    const r = await run('hello', { a: 1 });
    assert.equal(r.state, 'succeeded', JSON.stringify(r));
    assert.equal(r.isolation, 'process');
    assert.ok(r.output.pid < 10, `pid ${r.output.pid} is inside a fresh PID namespace`);
    assert.equal(r.output.t, true);
    assert.deepEqual(r.output.input, { a: 1 });
  });

  test('escape attempts are contained: state dir, /etc/shadow, ~/.ssh, writes, env, sockets, the parent', async () => {
    const outside = join(tempDir('cg-outside-'), 'pwned.txt');
    const r = await run('escape', { stateFile: secretFile, outside, port });
    assert.equal(r.state, 'succeeded', JSON.stringify(r));
    const o = r.output;
    assert.match(o.stateDir, /^failed/);
    assert.match(o.shadow, /^failed/);
    assert.match(o.ssh, /^failed/);
    assert.match(o.writeOutside, /^failed/);
    assert.deepEqual(o.env, []);
    assert.match(o.socket, /^failed/);
    assert.equal(connections, 0, 'the loopback listener saw no connection');
    assert.equal((await g.call('GET', '/healthz')).status, 200, 'the gateway survived');
    assert.ok(!readFileSync(secretFile, 'utf8').includes('pwned'));
    assert.throws(() => readFileSync(outside));
  });

  test('while(true) is killed at the timeout as timed_out', async () => {
    const t0 = Date.now();
    const r = await run('spin');
    assert.equal(r.state, 'timed_out');
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
  });

  test('a memory bomb ends as killed with reason memory_limit', async () => {
    const r = await run('bomb');
    assert.equal(r.state, 'killed', JSON.stringify(r));
    assert.equal(r.reason, 'memory_limit');
  });

  test('a crash outside the agent promise fails the run with the error', async () => {
    const r = await run('crash');
    assert.equal(r.state, 'failed');
    assert.equal(r.error.code, 'crashed');
    assert.match(r.error.message, /async boom/);
  });

  test('no sandboxed child outlives its run (the warm pool holds only never-used ones)', async () => {
    await Promise.all([run('hello'), run('hello'), run('hello')]);
    await waitFor(() => {
      const c = g.gw.runs.instanceCounts();
      return c.live.process === c.idle.process;
    });
    const gwChildren = sandboxedChildren();
    assert.ok(gwChildren.length >= g.gw.runs.instanceCounts().idle.process);
  });
});

test('without bubblewrap, process isolation refuses to run (fail closed) and status says why', async () => {
  const prev = process.env.CLAWGUARD_BWRAP;
  process.env.CLAWGUARD_BWRAP = '/nonexistent/bwrap';
  const { resetBubblewrapDetection } = await import('../../src/sandbox/index.js');
  resetBubblewrapDetection();
  const dir = tempDir('cg-nobwrap-');
  writeFileSync(join(dir, 'a.js'), 'export default async () => 1');
  const g = await startGateway({ agents: { p: { isolation: 'process', entry: join(dir, 'a.js') }, t: { entry: join(dir, 'a.js') } } });
  try {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'p' });
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, 'sandbox_unavailable');
    const s = await g.call('GET', '/v1/status');
    assert.equal(s.json.isolation.process.available, false);
    assert.match(s.json.isolation.process.reason, /bubblewrap unavailable/);
    assert.equal((await g.call('POST', '/v1/runs?wait=1', { profile: 't' })).json.state, 'succeeded', 'thread isolation is unaffected');
  } finally {
    await g.close();
    if (prev === undefined) delete process.env.CLAWGUARD_BWRAP;
    else process.env.CLAWGUARD_BWRAP = prev;
    resetBubblewrapDetection();
  }
});
