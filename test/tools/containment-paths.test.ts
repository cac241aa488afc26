/**
 * Issue 12, routes 4 and 6 and the "also weak" path items, against a real gateway with exec.run (real
 * bubblewrap) and the fs tools allowed: renames, links and masks; protected paths in reach; policy path
 * rules deciding on the canonical path; no existence oracle; no masked path in /proc/1/cmdline.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectBubblewrap } from '../../src/sandbox/index.js';
import { mulberry32 } from '../helpers/prng.js';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';

const bwrapOk = detectBubblewrap().available;
const SECRET = `SECRET-${process.pid}-${Date.now()}`;

type Out = { ok: boolean; result?: any; error?: { code: string; message: string } };

const AGENT = `export default async (input, ctx) => {
  const out = [];
  for (const [tool, args] of input.calls) out.push(await ctx.tools.call(tool, args));
  return out;
}`;

describe('blocked paths stay blocked whatever is renamed, linked or created', { skip: !bwrapOk && 'bubblewrap not available' }, () => {
  const root = tempDir('cg-contain-');
  const ws = join(root, 'ws');
  const blocked = [join(ws, 'proj', '.env'), join(ws, 'd1', 'd2', 'key'), join(ws, 'd1', 'd2', 'd3', 'vault'), join(ws, 'ghost', 'authorized_keys')];
  let g: TestGateway;
  let runs = 0;

  const calls = async (c: Array<[string, unknown]>, profile = 'tools'): Promise<{ out: Out[]; runId: string }> => {
    runs++;
    const r = await g.call('POST', '/v1/runs?wait=1', { profile, input: { calls: c } });
    assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
    assert.ok(!JSON.stringify(r.json).includes(SECRET), `the secret never comes back: ${JSON.stringify(r.json).slice(0, 2000)}`);
    return { out: r.json.output as Out[], runId: r.json.runId as string };
  };
  const exec = (script: string): [string, unknown] => ['exec.run', { argv: ['/bin/sh', '-c', script] }];

  before(async () => {
    for (const d of [join(ws, 'proj'), join(ws, 'd1', 'd2', 'd3', 'vault'), join(ws, 'secrets'), join(ws, 'private')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(ws, 'proj', '.env'), SECRET);
    writeFileSync(join(ws, 'proj', 'readme.txt'), 'public');
    writeFileSync(join(ws, 'd1', 'd2', 'key'), SECRET);
    writeFileSync(join(ws, 'd1', 'd2', 'd3', 'vault', 'v.txt'), SECRET);
    writeFileSync(join(ws, 'secrets', '.env'), SECRET);
    writeFileSync(join(ws, 'secrets', 'x'), SECRET);
    writeFileSync(join(ws, 'private', 'k'), SECRET);
    writeFileSync(join(ws, 'hello.txt'), 'hello');
    symlinkSync(join(ws, 'secrets'), join(ws, 'alias'));
    const agent = writeAgent(root, 'agent.js', AGENT);
    const all = ['fs.read', 'fs.write', 'fs.list', 'fs.stat', 'exec.run'];
    g = await startGateway({
      sandbox: { mode: 'strict', fileAccess: { allowedPaths: [ws], blockedPaths: blocked } },
      agents: {
        tools: { entry: agent, tools: { allow: all } },
        guarded: { entry: agent, workspace: ws, tools: { allow: all, deny: [{ tool: 'fs.*', paths: [`${ws}/secrets/**`] }, { tool: 'fs.*', paths: ['private/**'] }] } },
      },
    });
  });
  after(async () => {
    await g?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('mv of a blocked path or any ancestor inside the sandbox fails (mount points); the blocked file never comes back', async () => {
    const { out } = await calls([
      exec('mv proj proj_moved; echo "mv=$?"; mv proj/.env x; echo "mv2=$?"; mv d1 d1m; echo "mv3=$?"; mv d1/d2 d2m; echo "mv4=$?"; rm -rf d1/d2/d3; echo "rm=$?"; ln proj/.env hl; echo "ln=$?"; cat proj/.env d1/d2/key d1/d2/d3/vault/v.txt; ls -la proj'),
      ['fs.read', { path: 'proj_moved/.env' }],
      ['fs.read', { path: 'proj/.env' }],
      ['fs.read', { path: 'x' }],
      ['fs.read', { path: 'd1m/d2/key' }],
      ['fs.read', { path: 'hl' }],
      ['fs.read', { path: 'proj/readme.txt' }],
    ]);
    const sh = out[0]!.result;
    for (const k of ['mv', 'mv2', 'mv3', 'mv4', 'ln']) assert.doesNotMatch(sh.stdout, new RegExp(`${k}=0`), `${k} must fail: ${sh.stdout}${sh.stderr}`);
    assert.match(sh.stderr, /busy/i, 'a mount point cannot be renamed');
    for (const r of out.slice(1, 6)) {
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.ok(['path_blocked', 'not_found'].includes(r.error!.code), JSON.stringify(r));
    }
    assert.equal(out[2]!.error!.code, 'path_blocked');
    assert.equal(out[6]!.result.content, 'public', 'what is not blocked stays readable');
  });

  test('a blocked path that does not exist cannot be created by the agent (fs.write or exec.run)', async () => {
    const { out } = await calls([
      exec('mkdir -p ghost/authorized_keys/sub && echo PLANTED1; echo k > ghost/authorized_keys/x && echo PLANTED2; rm -rf ghost/authorized_keys && echo PLANTED3; mv ghost g2 && echo PLANTED4; true'),
      ['fs.write', { path: 'ghost/authorized_keys', content: 'ssh-ed25519 AAAA attacker' }],
      ['fs.write', { path: 'ghost/authorized_keys/x', content: 'x', createDirs: true }],
    ]);
    assert.doesNotMatch(out[0]!.result.stdout, /PLANTED/, out[0]!.result.stderr);
    assert.equal(out[1]!.error?.code, 'path_blocked');
    assert.equal(out[2]!.error?.code, 'path_blocked');
    // The gateway made it an empty, unreadable mask point; nothing of the agent's is in it.
    assert.deepEqual((await import('node:fs')).readdirSync(join(ws, 'ghost', 'authorized_keys')), []);
  });

  test('a rename done some other way (on the host) is caught by identity: every fs tool, every ancestor level, hard links too', async () => {
    const levels: Array<[string, string, string]> = [
      [join(ws, 'proj'), join(ws, 'proj_moved'), 'proj_moved/.env'],
      [join(ws, 'proj', '.env'), join(ws, 'renamed.env'), 'renamed.env'],
      [join(ws, 'd1'), join(ws, 'd1x'), 'd1x/d2/key'],
      [join(ws, 'd1', 'd2'), join(ws, 'd1', 'd2x'), 'd1/d2x/key'],
      [join(ws, 'd1', 'd2', 'd3'), join(ws, 'd3x'), 'd3x/vault/v.txt'],
    ];
    await new Promise((r) => setTimeout(r, 1100)); // past the identity refresh interval
    for (const [from, to, agentPath] of levels) {
      renameSync(from, to);
      try {
        const { out } = await calls([
          ['fs.read', { path: agentPath }],
          ['fs.stat', { path: agentPath }],
          ['fs.write', { path: agentPath, content: 'overwritten' }],
          ['fs.list', { path: agentPath.split('/').slice(0, -1).join('/') || '.' }],
          ['fs.read', { path: `file://${join(ws, agentPath)}` }],
        ]);
        for (const r of out.slice(0, 3)) assert.equal(r.error?.code, 'path_blocked', `${agentPath}: ${JSON.stringify(r)}`);
        assert.match(out[0]!.error!.message, /moved or linked/);
        const base = agentPath.split('/').pop();
        assert.ok(out[3]!.ok === false || !out[3]!.result.entries.some((e: { name: string }) => e.name === base), `${agentPath} is not listed: ${JSON.stringify(out[3])}`);
        assert.equal(out[4]!.error?.code, 'path_blocked');
      } finally {
        renameSync(to, from);
      }
    }
    linkSync(join(ws, 'd1', 'd2', 'key'), join(ws, 'hardlink'));
    try {
      const { out } = await calls([['fs.read', { path: 'hardlink' }]]);
      assert.equal(out[0]!.error?.code, 'path_blocked');
    } finally {
      rmSync(join(ws, 'hardlink'));
    }
  });

  test('policy path rules decide on the canonical path: dotfiles, file://, dir/** covers dir, symlinks, relative patterns; the audit names the canonical path', async () => {
    const { out, runId } = await calls(
      [
        ['fs.read', { path: 'secrets/.env' }],
        ['fs.read', { path: `file://${ws}/secrets/x` }],
        ['fs.read', { path: `file://${ws}/secr%65ts/x` }],
        ['fs.list', { path: 'secrets' }],
        ['fs.read', { path: 'alias/x' }],
        ['fs.stat', { path: `${ws}//secrets/./x` }],
        ['fs.read', { path: 'private/k' }],
        ['fs.write', { path: 'secrets/new', content: 'x' }],
        ['fs.read', { path: 'hello.txt' }],
      ],
      'guarded',
    );
    for (const r of out.slice(0, 8)) assert.equal(r.error?.code, 'denied', JSON.stringify(r));
    assert.equal(out[8]!.result.content, 'hello');
    const ev = (await g.call('GET', `/v1/audit/events?runId=${runId}&type=tool.decision&limit=100`)).json.events as Array<{ resource: string; decision: string; payload: { args: { path: string } } }>;
    const resources = ev.map((e) => e.resource);
    assert.ok(resources.includes(join(ws, 'secrets', '.env')), JSON.stringify(resources));
    assert.equal(resources.filter((r) => r === join(ws, 'secrets', 'x')).length, 4, 'file://, its encoded form, the symlink and //./ all name the one canonical path');
    assert.ok(resources.includes(join(ws, 'secrets')));
    for (const e of ev) assert.equal(e.payload.args.path, e.resource, 'the audited argument is the canonical path, not the raw string');
  });

  test('no existence oracle: a link to a missing host path and one to an existing host path get the same answer, naming only the given path', async () => {
    symlinkSync('/etc/passwd', join(ws, 'to-existing'));
    symlinkSync(`/etc/no-such-${process.pid}`, join(ws, 'to-missing'));
    symlinkSync(`/root/.ssh/id_rsa`, join(ws, 'to-maybe'));
    symlinkSync(`${root}/outside/a/../../ws/hello.txt`, join(ws, 'via-outside'));
    try {
      const { out } = await calls([
        ['fs.read', { path: 'to-existing' }],
        ['fs.read', { path: 'to-missing' }],
        ['fs.read', { path: 'to-maybe' }],
        ['fs.read', { path: 'via-outside' }],
      ]);
      const msgs = out.map((r) => r.error?.message ?? 'ok');
      assert.equal(msgs[0]!.replace('to-existing', 'X'), msgs[1]!.replace('to-missing', 'X'));
      assert.equal(msgs[0]!.replace('to-existing', 'X'), msgs[2]!.replace('to-maybe', 'X'));
      assert.equal(out[3]!.error?.code, 'path_blocked', 'resolution stops at the first component outside; it never learns whether that exists');
      for (const m of msgs) assert.doesNotMatch(m, /\/etc\/|\.ssh|no-such|\/outside/, m);
    } finally {
      for (const n of ['to-existing', 'to-missing', 'to-maybe', 'via-outside']) rmSync(join(ws, n));
    }
  });

  test('inside the sandbox no process command line names a masked path (bwrap takes its options on a descriptor)', async () => {
    const { out } = await calls([exec('for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < $f; echo; done; ls /proc/self/fd')]);
    const text = out[0]!.result.stdout as string;
    assert.match(text, /bwrap --args \d+/);
    for (const b of blocked) assert.ok(!text.includes(b), `${b} in ${text}`);
    assert.ok(!text.includes('--tmpfs') && !text.includes('--ro-bind'), text);
  });

  test('randomised (fixed seed): encodings, depths, which tool, renames of each ancestor level inside and outside the sandbox', async () => {
    const rnd = mulberry32(1204);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const targets = [
      { rel: 'proj/.env', levels: ['proj', 'proj/.env'] },
      { rel: 'd1/d2/key', levels: ['d1', 'd1/d2', 'd1/d2/key'] },
      { rel: 'd1/d2/d3/vault/v.txt', levels: ['d1', 'd1/d2', 'd1/d2/d3', 'd1/d2/d3/vault'] },
    ];
    const encode = (rel: string): string => {
      const abs = join(ws, rel);
      switch (Math.floor(rnd() * 8)) {
        case 0: return rel;
        case 1: return abs;
        case 2: return `file://${abs.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}`;
        case 3: return abs.replace(/\//g, '//');
        case 4: return `./${rel.split('/').join('/./')}`;
        case 5: return `hello.txt/../${rel}`.replace('hello.txt/', 'nosuch/');
        case 6: return `file://localhost${abs}`;
        default: return `${rel.split('/')[0]}/../${rel}`;
      }
    };
    const tools = ['fs.read', 'fs.stat', 'fs.write', 'fs.list'] as const;
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 14; i++) {
      const t = pick(targets);
      const level = pick(t.levels);
      const movedName = `m${i}-${Math.floor(rnd() * 1000)}`;
      const movedRel = t.rel.replace(level, movedName);
      const viaHost = rnd() < 0.5;
      const batch: Array<[string, unknown]> = [];
      if (!viaHost) batch.push(exec(`mv ${level} ${movedName} 2>/dev/null; echo "rc=$?"; cat ${t.rel} ${movedRel} 2>/dev/null`));
      else renameSync(join(ws, level), join(ws, movedName));
      try {
        if (viaHost) await new Promise((r) => setTimeout(r, 1050 * (rnd() < 0.3 ? 1 : 0)));
        for (const p of [t.rel, movedRel]) {
          // A write to the new name after a rename that failed just makes a new, harmless file.
          const tool = viaHost || p === t.rel ? pick(tools) : pick(tools.filter((x) => x !== 'fs.write'));
          const enc = encode(p);
          const target = tool === 'fs.list' ? enc.split('/').slice(0, -1).join('/') || '.' : enc;
          batch.push([tool, tool === 'fs.write' ? { path: target, content: 'x' } : { path: target }]);
        }
        const { out } = await calls(batch);
        if (!viaHost) assert.match(out[0]!.result.stdout, /rc=[1-9]/, 'the rename inside the sandbox fails');
        for (const r of out.slice(viaHost ? 0 : 1)) {
          const k = r.ok ? 'ok' : r.error!.code;
          outcomes[k] = (outcomes[k] ?? 0) + 1;
          if (r.ok && r.result.entries) for (const e of r.result.entries) assert.ok(!['.env', 'key', 'vault'].includes(e.name), JSON.stringify(r.result));
          if (r.ok && !r.result.entries) assert.fail(`a blocked path was reachable: ${JSON.stringify(batch)} → ${JSON.stringify(r)}`);
        }
      } finally {
        if (viaHost) renameSync(join(ws, movedName), join(ws, level));
      }
    }
    assert.ok((outcomes.path_blocked ?? 0) > 5, JSON.stringify(outcomes));
    assert.ok(runs > 0);
  });
});

describe('the state dir, the policy dir, the config and agent modules are never within an agent’s reach', () => {
  test('the gateway refuses to start with one inside a workspace or an allowed path, saying which and why', async () => {
    const base = tempDir('cg-reach-');
    try {
      const agent = writeAgent(base, 'a.js', AGENT);
      const cases: Array<[unknown, RegExp]> = [
        // The test gateway's state dir is created under `base`: allowing `base` puts it in reach.
        [{ sandbox: { fileAccess: { allowedPaths: [base] } }, agents: { p: { entry: agent } } }, /state dir .* lies inside sandbox\.fileAccess\.allowedPaths\[0\]/],
        [{ agents: { p: { entry: agent, workspace: join(base, 'ws'), sandbox: { fileAccess: { allowedPaths: [join(base, 'ws')] } } } }, policy: { dir: join(base, 'ws', 'policies') } }, /policy directory .* lies inside agents\.p\.sandbox\.fileAccess\.allowedPaths\[0\]/],
        [{ agents: { p: { entry: join(base, 'ws', 'agent.js'), sandbox: { fileAccess: { allowedPaths: [join(base, 'ws')] } } } } }, /entry module of agents\.p .* lies inside/],
        [{ agents: { p: { entry: agent, workspace: '/' } } }, /lies inside the workspace of agents\.p/],
      ];
      mkdirSync(join(base, 'ws'), { recursive: true });
      writeFileSync(join(base, 'ws', 'agent.js'), AGENT);
      for (const [config, msg] of cases) {
        await assert.rejects(startGateway(config, { baseDir: base }), (e: Error & { code?: string }) => e.code === 'config_invalid' && msg.test(e.message), JSON.stringify(config));
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
