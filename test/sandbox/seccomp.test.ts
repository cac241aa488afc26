/**
 * Issue 12 route 5: no agent can plant setuid/setgid binaries or file capabilities on the host.
 * The generated BPF program is run in an emulator against a model of the rules (both architecture
 * tables, fixed-seed random syscalls), and the real thing is attacked through a real gateway's exec.run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildSeccompProgram, detectBubblewrap, runSandboxed, sandboxStatus, seccompProgram } from '../../src/sandbox/index.js';
import { TABLES } from '../../src/sandbox/seccomp.js';
import { mulberry32 } from '../helpers/prng.js';
import { startGateway, tempDir, writeAgent } from '../helpers/gateway.js';

const bwrapOk = detectBubblewrap().available;

/** A classic-BPF interpreter for seccomp programs (the subset the generator emits, plus a guard). */
function runBpf(prog: Buffer, data: { nr: number; arch: number; args: number[] }): number {
  const word = (off: number): number => {
    if (off === 0) return data.nr >>> 0;
    if (off === 4) return data.arch >>> 0;
    const i = (off - 16) / 8;
    if (Number.isInteger(i) && i >= 0 && i < 6) return data.args[i]! >>> 0;
    if (Number.isInteger((off - 20) / 8)) return 0; // high words
    throw new Error(`load at ${off}`);
  };
  let acc = 0;
  for (let pc = 0, steps = 0; pc < prog.length / 8 && steps < 1000; steps++) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    pc++;
    if (code === 0x20) acc = word(k);
    else if (code === 0x15) pc += acc === k ? jt : jf;
    else if (code === 0x35) pc += acc >= k ? jt : jf;
    else if (code === 0x45) pc += (acc & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`opcode ${code.toString(16)}`);
  }
  throw new Error('fell off the program');
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const KILL = 0x80000000;

/** The rules, written once more independently of the generator. */
function model(arch: 'x64' | 'arm64', nr: number, args: number[], auditArch: number): number {
  const t = TABLES[arch]!;
  if (auditArch !== t.audit) return KILL;
  if (arch === 'x64' && nr >= 0x40000000) return ENOSYS;
  const special = (m: number) => ((args[m]! & 0o6000) !== 0 ? EPERM : ALLOW);
  const creating = (f: number) => (args[f]! & (0o100 | 0o20000000)) !== 0;
  const x64: Record<number, () => number> = {
    2: () => (creating(1) ? special(2) : ALLOW), 257: () => (creating(2) ? special(3) : ALLOW), 85: () => special(1),
    90: () => special(1), 91: () => special(1), 268: () => special(2), 452: () => special(2), 133: () => special(1), 259: () => special(2),
    188: () => EPERM, 189: () => EPERM, 190: () => EPERM, 463: () => EPERM, 437: () => ENOSYS, 425: () => ENOSYS, 426: () => ENOSYS, 427: () => ENOSYS,
  };
  const arm: Record<number, () => number> = {
    56: () => (creating(2) ? special(3) : ALLOW), 52: () => special(1), 53: () => special(2), 452: () => special(2), 33: () => special(2),
    5: () => EPERM, 6: () => EPERM, 7: () => EPERM, 463: () => EPERM, 437: () => ENOSYS, 425: () => ENOSYS, 426: () => ENOSYS, 427: () => ENOSYS,
  };
  return (arch === 'x64' ? x64 : arm)[nr]?.() ?? ALLOW;
}

test('seccomp program: equals the model for both architectures over 40,000 fixed-seed syscalls', () => {
  const rnd = mulberry32(0x5ecc);
  for (const arch of ['x64', 'arm64'] as const) {
    const prog = buildSeccompProgram(TABLES[arch]!);
    const interesting = [...TABLES[arch]!.rules.map((r) => r.nr), 0, 1, 59, 221, 83, 258, 0x40000000 | 90, 0x40000000 | 2, 0xffffffff];
    const modes = [0, 0o755, 0o4755, 0o2755, 0o6777, 0o1777, 0o4000, 0o2000, 0o777, 0xffffffff, 0o104755];
    const flags = [0, 0o100, 0o1, 0o101, 0o20200000, 0o20000000, 0o2000000, 0o100 | 0o1000, 0xffffffff];
    for (let i = 0; i < 20_000; i++) {
      const nr = rnd() < 0.8 ? interesting[Math.floor(rnd() * interesting.length)]! : Math.floor(rnd() * 600);
      const args = Array.from({ length: 6 }, () => (rnd() < 0.5 ? modes[Math.floor(rnd() * modes.length)]! : flags[Math.floor(rnd() * flags.length)]!));
      const auditArch = rnd() < 0.95 ? TABLES[arch]!.audit : [0x40000003, 0x40000028, 0xc000003e, 0xc00000b7, 0][Math.floor(rnd() * 5)]!;
      assert.equal(runBpf(prog, { nr, arch: auditArch, args }), model(arch, nr, args, auditArch), `${arch} nr=${nr} args=${args.map((a) => a.toString(8))} arch=${auditArch.toString(16)}`);
    }
  }
  assert.equal(seccompProgram('riscv64'), undefined, 'no table, no program');
});

test('fails closed where no filter can be built: exec refused with sandbox_unavailable, status says why', { skip: !bwrapOk && 'bubblewrap not available' }, async () => {
  const ws = tempDir('cg-sc-arch-');
  const real = process.arch;
  Object.defineProperty(process, 'arch', { value: 'riscv64', configurable: true });
  try {
    await assert.rejects(runSandboxed({ argv: ['/bin/true'], workspace: ws, timeoutMs: 5000, maxOutputBytes: 100 }), (e: Error & { code: string }) => e.code === 'sandbox_unavailable' && /seccomp/.test(e.message));
    const st = sandboxStatus('strict');
    assert.equal(st.available, false);
    assert.match(st.reason ?? '', /seccomp/);
  } finally {
    Object.defineProperty(process, 'arch', { value: real, configurable: true });
    rmSync(ws, { recursive: true, force: true });
  }
  assert.match(sandboxStatus('strict').privileges.meaning, /seccomp filter/);
});

/** Every file under `dir` with a setuid or setgid bit, as seen on the host. */
function specialBits(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.mode & 0o6000) out.push(`${p} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

test('exec.run through a real gateway: chmod, install, cp -p, python/perl/node, open(O_CREAT), mknod, tar, setcap, setgid dirs, raw syscalls plant nothing', { skip: !bwrapOk && 'bubblewrap not available' }, async () => {
  const root = tempDir('cg-suid-');
  const ws = join(root, 'ws');
  (await import('node:fs')).mkdirSync(ws);
  const agent = writeAgent(root, 'a.js', `export default async (input, ctx) => {
    const out = [];
    for (const script of input.scripts) out.push(await ctx.tools.call('exec.run', { argv: ['/bin/sh', '-c', script] }));
    return out;
  }`);
  const g = await startGateway({ sandbox: { fileAccess: { allowedPaths: [ws] }, exec: { addressSpaceMb: 4096 } }, agents: { p: { entry: agent, tools: { allow: ['exec.run'] } } } });
  const py = (code: string) => `/usr/bin/python3 -c '${code}' 2>&1`;
  const scripts = [
    'cp /usr/bin/id a && chmod 4755 a; chmod u+s a; chmod 6755 a; chmod +s a; chmod g+s a; ls -l a',
    'install -m 4755 /usr/bin/id b; install -m 2755 /usr/bin/id b2; ls -l b b2',
    'cp -p /usr/bin/passwd c; cp -a /usr/bin/su c2; ls -l c c2',
    py('import os,shutil; shutil.copy("/usr/bin/id","d"); os.chmod("d",0o4755)'),
    "cp /usr/bin/id e && perl -e 'chmod(04755, \"e\") or print \"perl: $!\\n\"'",
    `/usr/bin/node -e 'const fs=require("fs"); fs.copyFileSync("/usr/bin/id","f"); try { fs.chmodSync("f",0o4755) } catch (e) { console.log("node", e.code) }'`,
    py('import os; fd=os.open("g", os.O_CREAT|os.O_WRONLY, 0o4755); print(oct(os.fstat(fd).st_mode))'),
    py('import os; os.open(".", os.O_TMPFILE|os.O_WRONLY, 0o4755)'),
    py('import os,stat; os.mknod("h", stat.S_IFREG|0o4755)'),
    'mkdir -p t/in && cp /usr/bin/id t/in/id && tar --mode=4755 -cf t.tar -C t/in id && mkdir -p t/out && tar -xpf t.tar -C t/out --same-permissions; tar tvf t.tar; ls -l t/out',
    'cp /usr/bin/id i && /usr/sbin/setcap cap_net_raw+ep i; echo "setcap=$?"',
    py('import os; open("j","w").close(); os.setxattr("j","security.capability",b"\\x01\\x00\\x00\\x02" + b"\\x00"*16)'),
    'mkdir sg && chmod g+s sg; mkdir -m 2755 sg2; mkdir -m 6777 sg3; ls -ld sg sg2 sg3',
    // Raw syscalls, past any libc: creat, chmod, fchmodat2, openat2, io_uring_setup, an x32 chmod.
    py('import ctypes,os; libc=ctypes.CDLL(None, use_errno=True); open("k","w").close()\nfor nr,a in ((85,(b"k2",0o4755)),(90,(b"k",0o4755)),(452,(-100,b"k",0o4755,0)),(437,(-100,b"k",0,0)),(425,(8,0)),(0x40000000|90,(b"k",0o4755))):\n  r=libc.syscall(nr,*a); print(nr, r, os.strerror(ctypes.get_errno()) if r<0 else "")'),
  ];
  try {
    const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'p', input: { scripts } });
    assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
    const out = r.json.output as Array<{ ok: boolean; result: { stdout: string; stderr: string; exitCode: number } }>;
    for (const o of out) assert.equal(o.ok, true, JSON.stringify(o));
    const text = out.map((o) => o.result.stdout + o.result.stderr).join('\n');
    assert.deepEqual(specialBits(ws), [], `no setuid/setgid bit on the host:\n${text}`);
    const caps = spawnSync('/usr/sbin/getcap', ['-r', ws], { encoding: 'utf8' });
    assert.equal(caps.stdout.trim(), '', 'no file capabilities on the host');
    const xattrs = spawnSync('getfattr', ['-R', '-d', '-m', '-', ws], { encoding: 'utf8' });
    assert.doesNotMatch(xattrs.stdout, /security\.capability/);
    assert.match(text, /Operation not permitted/);
    assert.match(out[6]!.result.stdout, /Operation not permitted|PermissionError/, 'open(O_CREAT, 04755) is refused');
    assert.match(out[13]!.result.stdout, /^85 -1 Operation not permitted$/m);
    assert.match(out[13]!.result.stdout, /^90 -1 Operation not permitted$/m);
    assert.match(out[13]!.result.stdout, /^452 -1 Operation not permitted$/m);
    assert.match(out[13]!.result.stdout, /^437 -1 Function not implemented$/m);
    assert.match(out[13]!.result.stdout, /^425 -1 Function not implemented$/m);
    assert.match(out[13]!.result.stdout, /^1073741914 -1 Function not implemented$/m);
    assert.match(out[0]!.result.stdout, /^-rwxr-xr-x/m, 'a plain chmod still works');
    assert.equal((await g.call('GET', '/healthz')).status, 200);
    const status = (await g.call('GET', '/v1/status')).json;
    if (status?.sandbox) assert.match(JSON.stringify(status.sandbox.privileges), /root|uid/);
  } finally {
    await g.close();
    rmSync(root, { recursive: true, force: true });
  }
});
