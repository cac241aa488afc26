/**
 * Issue 12 route 7: the exec.run commands allow-list decides on what really runs. Against a real
 * gateway: the command is resolved on the fixed sandbox PATH, PATH and code-loading variables cannot be
 * set, argv patterns constrain the arguments, and the audit names the resolved command.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectBubblewrap } from '../../src/sandbox/index.js';
import { mulberry32 } from '../helpers/prng.js';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';

const bwrapOk = detectBubblewrap().available;
type Out = { ok: boolean; result?: { stdout: string; stderr: string; exitCode: number }; error?: { code: string; message: string } };

describe('exec.run commands and arguments', { skip: !bwrapOk && 'bubblewrap not available' }, () => {
  const root = tempDir('cg-cmds-');
  const ws = join(root, 'ws');
  let g: TestGateway;

  const run = async (profile: string, calls: unknown[]): Promise<{ out: Out[]; runId: string }> => {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile, input: { calls } });
    assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
    return { out: r.json.output, runId: r.json.runId };
  };

  before(async () => {
    mkdirSync(join(ws, 'bin'), { recursive: true });
    // The agent's own "git", which must never run in place of the system's.
    writeFileSync(join(ws, 'bin', 'git'), '#!/bin/sh\necho AGENT-GIT-RAN\n');
    chmodSync(join(ws, 'bin', 'git'), 0o755);
    const agent = writeAgent(root, 'a.js', `export default async (input, ctx) => {
      const out = [];
      for (const args of input.calls) out.push(await ctx.tools.call('exec.run', args));
      return out;
    }`);
    g = await startGateway({
      sandbox: { fileAccess: { allowedPaths: [ws] } },
      agents: {
        bare: { entry: agent, tools: { allow: [{ tool: 'exec.run', commands: ['git'] }] } },
        abs: { entry: agent, tools: { allow: [{ tool: 'exec.run', commands: ['/usr/bin/git'], argv: [['status'], ['log', '**'], ['--version']] }] } },
        envy: { entry: agent, sandbox: { fileAccess: { allowedPaths: [ws] }, exec: { agentEnv: ['LANG', 'MY_FLAG'] } }, tools: { allow: ['exec.run'] } },
      },
    });
  });
  after(async () => {
    await g?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('commands: ["git"] with env.PATH pointing at the agent’s folder: refused; its own git never runs', async () => {
    const { out } = await run('bare', [
      { argv: ['git', '--version'], env: { PATH: `${ws}/bin` } },
      { argv: ['git', '--version'], env: { PATH: `${ws}/bin:/usr/bin` } },
      { argv: ['git', '--version'] },
      { argv: ['./bin/git'] },
      { argv: [`${ws}/bin/git`] },
      { argv: ['bin/../bin/git'] },
      { argv: ['/usr/bin/../../usr/bin/git', '--version'] },
    ]);
    for (const o of out.slice(0, 2)) {
      assert.equal(o.error?.code, 'bad_request', JSON.stringify(o));
      assert.match(o.error!.message, /"PATH" may not be set/);
    }
    assert.equal(out[2]!.ok, true, JSON.stringify(out[2]));
    assert.match(out[2]!.result!.stdout, /^git version/);
    for (const o of out.slice(3, 6)) assert.equal(o.error?.code, 'denied', `the agent's file is not "git" on the fixed PATH: ${JSON.stringify(o)}`);
    assert.equal(out[6]!.ok, true, 'a spelling that normalises to /usr/bin/git is /usr/bin/git');
    assert.ok(!JSON.stringify(out).includes('AGENT-GIT-RAN'));
  });

  test('commands: ["/usr/bin/git"] with argv patterns: git -c alias.x=!id x is denied, status and log run', async () => {
    const { out, runId } = await run('abs', [
      { argv: ['/usr/bin/git', '-c', 'alias.x=!id', 'x'] },
      { argv: ['git', '-c', 'alias.x=!id', 'x'] },
      { argv: ['git', 'status', '--porcelain', '-c'] },
      { argv: ['git', '--version'] },
      { argv: ['git', 'log', '--oneline', '-n', '1'] },
      { argv: ['git', 'status'] },
      { argv: ['/bin/sh', '-c', 'id'] },
    ]);
    for (const i of [0, 1, 2, 6]) assert.equal(out[i]!.error?.code, 'denied', `${i}: ${JSON.stringify(out[i])}`);
    assert.match(out[3]!.result!.stdout, /^git version/);
    assert.equal(out[4]!.ok, true, 'git log ** may run (it fails: not a repository)');
    assert.equal(out[5]!.ok, true);
    assert.ok(!JSON.stringify(out).includes('uid='), 'id never ran');
    const ev = (await g.call('GET', `/v1/audit/events?runId=${runId}&type=tool.decision&limit=100`)).json.events as Array<{ resource: string; payload: { args: { argv: string[] } } }>;
    assert.deepEqual([...new Set(ev.map((e) => e.resource))].sort(), ['/bin/sh', '/usr/bin/git'], 'the audit names the resolved command');
    for (const e of ev) assert.equal(e.payload.args.argv[0], e.resource);
  });

  test('environment: an allow-list; code-loading variables are refused, naming the variable', async () => {
    const refused = ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'GCONV_PATH', 'BASH_ENV', 'ENV', 'NODE_OPTIONS', 'PYTHONSTARTUP', 'PERL5OPT', 'GIT_CONFIG_COUNT', 'HOME', 'PATH', 'SOMETHING_ELSE'];
    const { out } = await run('envy', [
      ...refused.map((k) => ({ argv: ['/usr/bin/env'], env: { [k]: `${ws}/x` } })),
      { argv: ['/usr/bin/env'], env: { LANG: 'C.UTF-8', MY_FLAG: '1' } },
      { argv: ['/usr/bin/env'], env: { LANG: `${ws}/evil-locale` } },
    ]);
    refused.forEach((k, i) => {
      assert.equal(out[i]!.error?.code, 'bad_request', `${k}: ${JSON.stringify(out[i])}`);
      assert.ok(out[i]!.error!.message.includes(`"${k}"`), out[i]!.error!.message);
    });
    const env = out[refused.length]!.result!.stdout;
    assert.match(env, /^MY_FLAG=1$/m);
    assert.match(env, /^PATH=\/usr\/local\/bin:/m, 'PATH stays the fixed sandbox PATH');
    assert.equal(out[refused.length + 1]!.error?.code, 'bad_request', 'a locale that is a path is refused');
  });

  test('randomised (fixed seed): spellings of argv[0] and argument vectors decide as the resolved command and the patterns say', async () => {
    const rnd = mulberry32(77);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const spellings = [['git', true], ['/usr/bin/git', true], ['/usr/bin//git', true], ['/usr/./bin/git', true], ['/bin/git', false], [`${ws}/bin/git`, false], ['bin/git', false], ['/usr/bin/git/', true]] as const;
    const argvs = [[['status'], true], [['log'], true], [['log', '-p', 'x'], true], [['--version'], true], [['status', '-c', 'x'], false], [['-c', 'core.pager=id', 'log'], false], [['-C', '/', 'status'], false], [['clone', 'x'], false], [[], false]] as const;
    const calls: unknown[] = [];
    const want: boolean[] = [];
    for (let i = 0; i < 24; i++) {
      const [cmd, cmdOk] = pick(spellings);
      const [args, argsOk] = pick(argvs);
      calls.push({ argv: [cmd, ...args] });
      want.push(cmdOk && argsOk);
    }
    const { out } = await run('abs', calls);
    out.forEach((o, i) => {
      const allowed = o.ok || o.error?.code !== 'denied';
      if (o.error?.code === 'not_found' || o.error?.code === 'bad_request') assert.equal(want[i], false, JSON.stringify([calls[i], o]));
      else assert.equal(allowed, want[i], JSON.stringify([calls[i], o]));
    });
    assert.ok(!JSON.stringify(out).includes('AGENT-GIT-RAN'));
  });
});
