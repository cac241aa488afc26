/**
 * The seccomp filter every sandbox runs under (bubblewrap `--seccomp FD`): no file an agent creates may
 * carry setuid/setgid bits or file capabilities on the host. Behind a root gateway the sandbox's uid
 * maps to root outside, so a `chmod 4755` there would leave a setuid-root binary for any local user.
 *
 * A classic-BPF program, generated here. It
 * - kills any process whose syscall is not of the host architecture (i386 on x86_64, arm32 on aarch64)
 *   and refuses x32 syscalls, so no second syscall table slips past the rules below;
 * - refuses (EPERM) chmod, fchmod, fchmodat, fchmodat2, creat, mknod and mknodat whose mode has
 *   S_ISUID or S_ISGID, and open/openat that create (O_CREAT or O_TMPFILE) with such a mode;
 * - refuses (EPERM) setxattr, lsetxattr, fsetxattr and setxattrat: that is how file capabilities
 *   (security.capability) and ACLs are set, and BPF cannot read the attribute name;
 * - refuses (ENOSYS, so programs fall back) openat2 and io_uring, whose arguments it cannot inspect.
 * mkdir needs no rule: the kernel never takes S_ISGID from mkdir's mode.
 */
import { ClawguardError } from '../errors/index.js';

const S_ISUID_GID = 0o6000;
/** O_CREAT | __O_TMPFILE: the open flags that make the mode argument count (same on x86_64 and aarch64). */
const CREATING = 0o100 | 0o20000000;

const EPERM = 1;
const ENOSYS = 38;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO = 0x00050000;
const RET_ALLOW = 0x7fff0000;
const X32_SYSCALL_BIT = 0x40000000;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

/** Offsets in struct seccomp_data; arguments are 64-bit, their low word first (little-endian). */
const NR = 0;
const ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;

type Rule =
  | { nr: number; mode: number } // refuse when (arg[mode] & S_ISUID|S_ISGID)
  | { nr: number; flags: number; mode: number } // … only when (arg[flags] & CREATING)
  | { nr: number; errno: number }; // always refused

interface ArchTable {
  audit: number;
  x32: boolean;
  rules: Rule[];
}

/** Syscall numbers per architecture (asm/unistd_64.h; asm-generic/unistd.h for aarch64). */
export const TABLES: Record<string, ArchTable> = {
  x64: {
    audit: 0xc000003e,
    x32: true,
    rules: [
      { nr: 2, flags: 1, mode: 2 }, // open
      { nr: 257, flags: 2, mode: 3 }, // openat
      { nr: 85, mode: 1 }, // creat
      { nr: 90, mode: 1 }, // chmod
      { nr: 91, mode: 1 }, // fchmod
      { nr: 268, mode: 2 }, // fchmodat
      { nr: 452, mode: 2 }, // fchmodat2
      { nr: 133, mode: 1 }, // mknod
      { nr: 259, mode: 2 }, // mknodat
      { nr: 188, errno: EPERM }, // setxattr
      { nr: 189, errno: EPERM }, // lsetxattr
      { nr: 190, errno: EPERM }, // fsetxattr
      { nr: 463, errno: EPERM }, // setxattrat
      { nr: 437, errno: ENOSYS }, // openat2
      { nr: 425, errno: ENOSYS }, // io_uring_setup
      { nr: 426, errno: ENOSYS }, // io_uring_enter
      { nr: 427, errno: ENOSYS }, // io_uring_register
    ],
  },
  arm64: {
    audit: 0xc00000b7,
    x32: false,
    rules: [
      { nr: 56, flags: 2, mode: 3 }, // openat
      { nr: 52, mode: 1 }, // fchmod
      { nr: 53, mode: 2 }, // fchmodat
      { nr: 452, mode: 2 }, // fchmodat2
      { nr: 33, mode: 2 }, // mknodat
      { nr: 5, errno: EPERM }, // setxattr
      { nr: 6, errno: EPERM }, // lsetxattr
      { nr: 7, errno: EPERM }, // fsetxattr
      { nr: 463, errno: EPERM }, // setxattrat
      { nr: 437, errno: ENOSYS }, // openat2
      { nr: 425, errno: ENOSYS }, // io_uring_setup
      { nr: 426, errno: ENOSYS }, // io_uring_enter
      { nr: 427, errno: ENOSYS }, // io_uring_register
    ],
  },
};

interface Insn {
  code: number;
  k: number;
  jt?: string;
  jf?: string;
  label?: string;
}

/** Assemble with symbolic jump targets (conditional jumps are relative and at most 255 forward). */
function assemble(insns: Insn[]): Buffer {
  const at = new Map<string, number>();
  insns.forEach((x, i) => x.label && at.set(x.label, i));
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    const rel = (l?: string) => {
      if (l === undefined) return 0;
      const t = at.get(l);
      if (t === undefined || t <= i || t - i - 1 > 255) throw new Error(`seccomp: bad jump to ${l} at ${i}`);
      return t - i - 1;
    };
    out.writeUInt16LE(x.code, i * 8);
    out.writeUInt8(rel(x.jt), i * 8 + 2);
    out.writeUInt8(rel(x.jf), i * 8 + 3);
    out.writeUInt32LE(x.k >>> 0, i * 8 + 4);
  });
  return out;
}

/** The filter program for one architecture table, as the bytes of a struct sock_filter array. */
export function buildSeccompProgram(table: ArchTable): Buffer {
  const p: Insn[] = [];
  p.push({ code: LD_W_ABS, k: ARCH }, { code: JEQ_K, k: table.audit, jt: 'arch-ok', jf: 'kill' });
  p.push({ code: LD_W_ABS, k: NR, label: 'arch-ok' });
  if (table.x32) p.push({ code: JGE_K, k: X32_SYSCALL_BIT, jt: 'enosys', jf: 'dispatch' });
  p.push({ code: JEQ_K, k: table.rules[0]!.nr, jt: 'rule-0', jf: 'next-0', label: 'dispatch' });
  table.rules.slice(1).forEach((r, i) => p.push({ code: JEQ_K, k: r.nr, jt: `rule-${i + 1}`, jf: `next-${i + 1}`, label: `next-${i}` }));
  p.push({ code: RET_K, k: RET_ALLOW, label: `next-${table.rules.length - 1}` });
  table.rules.forEach((r, i) => {
    const label = `rule-${i}`;
    if ('errno' in r) p.push({ code: RET_K, k: RET_ERRNO | r.errno, label });
    else {
      if ('flags' in r) p.push({ code: LD_W_ABS, k: argLow(r.flags), label }, { code: JSET_K, k: CREATING, jt: `mode-${i}`, jf: 'allow' });
      p.push({ code: LD_W_ABS, k: argLow(r.mode), ...('flags' in r ? { label: `mode-${i}` } : { label }) }, { code: JSET_K, k: S_ISUID_GID, jt: 'eperm', jf: 'allow' });
    }
  });
  p.push({ code: RET_K, k: RET_ALLOW, label: 'allow' });
  p.push({ code: RET_K, k: RET_ERRNO | EPERM, label: 'eperm' });
  p.push({ code: RET_K, k: RET_ERRNO | ENOSYS, label: 'enosys' });
  p.push({ code: RET_K, k: RET_KILL_PROCESS, label: 'kill' });
  return assemble(p);
}

const programs = new Map<string, Buffer>();

/** The filter for this machine's architecture, or undefined where none can be built. */
export function seccompProgram(arch: string = process.arch): Buffer | undefined {
  const table = TABLES[arch];
  if (!table) return undefined;
  let prog = programs.get(arch);
  if (!prog) programs.set(arch, (prog = buildSeccompProgram(table)));
  return prog;
}

/** The filter, or sandbox_unavailable: a sandbox without it could plant setuid files on the host. */
export function requireSeccomp(what: string): Buffer {
  const prog = seccompProgram();
  if (!prog) throw new ClawguardError('sandbox_unavailable', `${what} refused: no seccomp filter for architecture ${process.arch} (x64 and arm64 are supported), and without it a sandboxed command could leave setuid files on the host`);
  return prog;
}

export function seccompStatus(): { available: boolean; arch: string; reason?: string; refuses: string[] } {
  const available = seccompProgram() !== undefined;
  return {
    available,
    arch: process.arch,
    ...(available ? {} : { reason: `no seccomp table for ${process.arch}: exec and process isolation are refused` }),
    refuses: ['setuid/setgid bits in chmod/fchmod/fchmodat/fchmodat2/creat/mknod/mknodat and creating open/openat', 'setxattr family (file capabilities, ACLs)', 'openat2 and io_uring (ENOSYS)', 'syscalls of other ABIs (x32, i386, arm32)'],
  };
}
