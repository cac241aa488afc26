/**
 * Resource limits for sandboxed commands.
 * - rlimits (CPU seconds, address space, processes, file size) via util-linux `prlimit`, run inside the
 *   sandbox as the command's wrapper so the limits bind the command, not bwrap.
 * - RLIMIT_NPROC is not enforced for processes whose real uid is root (the kernel exempts it), and a
 *   user namespace does not change that. When the gateway runs as root, a pids cgroup (v1 or v2) caps
 *   the process count instead. sandboxStatus() reports which mechanism is in force.
 */
import { accessSync, constants as C, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { emptyAndRelease } from './cgroup-release.js';

export interface SandboxLimits {
  cpuSeconds?: number;
  addressSpaceMb?: number;
  processes?: number;
  fileSizeMb?: number;
  /** Size of the private /tmp tmpfs. */
  tmpSizeMb?: number;
}

export const DEFAULT_LIMITS: Required<SandboxLimits> = { cpuSeconds: 30, addressSpaceMb: 1024, processes: 64, fileSizeMb: 64, tmpSizeMb: 64 };

let prlimitPath: string | null | undefined;
/** util-linux prlimit under /usr or /bin (so it is visible inside the sandbox), or null. */
export function findPrlimit(): string | null {
  if (prlimitPath === undefined) {
    prlimitPath = null;
    for (const c of ['/usr/bin/prlimit', '/bin/prlimit']) {
      try {
        accessSync(c, C.X_OK);
        prlimitPath = c;
        break;
      } catch {
        /* next */
      }
    }
  }
  return prlimitPath;
}

/** argv prefix that applies the limits; only the limits given (after defaults) are set. */
export function rlimitPrefix(limits: SandboxLimits, prlimit: string): string[] {
  const out = [prlimit];
  const int = (n: number) => String(Math.max(0, Math.floor(n)));
  if (limits.cpuSeconds !== undefined) out.push(`--cpu=${int(limits.cpuSeconds)}`);
  if (limits.addressSpaceMb !== undefined) out.push(`--as=${int(limits.addressSpaceMb * 1024 * 1024)}`);
  if (limits.processes !== undefined) out.push(`--nproc=${int(limits.processes)}`);
  if (limits.fileSizeMb !== undefined) out.push(`--fsize=${int(limits.fileSizeMb * 1024 * 1024)}`);
  out.push('--core=0', '--');
  return out;
}

export type ProcessLimitKind = 'cgroup-v1' | 'cgroup-v2' | 'rlimit' | 'none';

interface CgroupBase {
  kind: 'cgroup-v1' | 'cgroup-v2';
  dir: string;
}
let cgBase: CgroupBase | null | undefined;
let cgReason = '';

/** Find (once) a pids cgroup directory we may create children in. */
export function pidsCgroupBase(): CgroupBase | null {
  if (cgBase !== undefined) return cgBase;
  cgBase = null;
  if (process.env.CLAWGUARD_SANDBOX_CGROUP === 'off') {
    cgReason = 'disabled by CLAWGUARD_SANDBOX_CGROUP=off';
    return cgBase;
  }
  try {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
    const tryDir = (kind: CgroupBase['kind'], dir: string): boolean => {
      try {
        mkdirSync(dir, { recursive: true });
        // v2: the per-run children only get pids.max if their parent delegates the controller.
        if (kind === 'cgroup-v2' && !readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8').includes('pids')) {
          writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+pids');
        }
        const probe = path.join(dir, `probe-${process.pid}`);
        mkdirSync(probe);
        const ok = existsSync(path.join(probe, 'pids.max'));
        rmdirSync(probe);
        if (ok) {
          cgBase = { kind, dir };
          sweepStale(dir);
        }
        return ok;
      } catch (e) {
        cgReason = `cannot create a pids cgroup under ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
        return false;
      }
    };
    // cgroup v1: a "cgroup" mount whose super options include pids.
    for (const line of mounts) {
      const [pre, post] = line.split(' - ');
      if (!pre || !post) continue;
      const [fstype, , superOpts] = post.split(' ');
      const mnt = pre.split(' ')[4];
      if (fstype === 'cgroup' && mnt && superOpts?.split(',').includes('pids')) {
        const rel = own.find((l) => l.split(':')[1]?.split(',').includes('pids'))?.split(':')[2] ?? '/';
        if (tryDir('cgroup-v1', path.join(mnt, rel, 'clawguard-sandbox'))) return cgBase;
      }
    }
    // cgroup v2: our own cgroup must delegate the pids controller to children.
    for (const line of mounts) {
      const [pre, post] = line.split(' - ');
      if (!pre || !post || post.split(' ')[0] !== 'cgroup2') continue;
      const mnt = pre.split(' ')[4]!;
      const rel = own.find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
      const mine = path.join(mnt, rel);
      try {
        if (!readFileSync(path.join(mine, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('pids')) {
          cgReason ||= `cgroup v2 at ${mine} offers no pids controller`;
          continue;
        }
        const sub = readFileSync(path.join(mine, 'cgroup.subtree_control'), 'utf8');
        if (!sub.split(/\s+/).includes('pids')) writeFileSync(path.join(mine, 'cgroup.subtree_control'), '+pids');
      } catch (e) {
        cgReason = `cannot delegate pids in cgroup v2 at ${mine}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
        continue;
      }
      if (tryDir('cgroup-v2', path.join(mine, 'clawguard-sandbox'))) return cgBase;
    }
    if (!cgReason) cgReason = 'no pids cgroup controller is mounted';
  } catch (e) {
    cgReason = `cannot inspect cgroups: ${(e as Error).message}`;
  }
  return cgBase;
}

/** Remove per-run groups left behind by gateways that are gone (empty ones only; rmdir refuses others). */
function sweepStale(dir: string): void {
  try {
    for (const name of readdirSync(dir)) {
      const m = /^run-(\d+)-\d+$/.exec(name);
      if (!m || Number(m[1]) === process.pid) continue;
      try {
        process.kill(Number(m[1]), 0);
        continue; // that gateway is still alive
      } catch {
        /* owner gone */
      }
      try {
        rmdirSync(path.join(dir, name));
      } catch {
        /* still has processes, or not ours to remove */
      }
    }
  } catch {
    /* unreadable: nothing to sweep */
  }
}

/** How the process count of a sandbox is capped here, and why not better. */
export function processLimitStatus(): { kind: ProcessLimitKind; reason?: string } {
  if (pidsCgroupBase()) return { kind: cgBase!.kind };
  const root = process.getuid?.() === 0;
  if (!root && findPrlimit()) return { kind: 'rlimit' };
  return {
    kind: 'none',
    reason: root
      ? `the gateway runs as root, where RLIMIT_NPROC is not enforced, and ${cgReason}; a fork bomb is bounded only by the timeout`
      : 'prlimit (util-linux) is not installed',
  };
}

let seq = 0;
/** Idle per-run cgroups, reused: mkdir/rmdir of a cgroup costs more than the run it guards. */
const idle: PidsCgroup[] = [];
let exitHook = false;

/** A per-run pids cgroup. The run's first processes are moved in before the command starts. */
export class PidsCgroup {
  private constructor(readonly dir: string) {}

  static acquire(maxProcs: number): PidsCgroup | null {
    const base = pidsCgroupBase();
    if (!base) return null;
    let cg = idle.pop();
    if (!cg) {
      const dir = path.join(base.dir, `run-${process.pid}-${++seq}`);
      try {
        mkdirSync(dir);
      } catch {
        return null;
      }
      cg = new PidsCgroup(dir);
      if (!exitHook) {
        exitHook = true;
        process.once('exit', () => {
          for (const c of idle.splice(0)) {
            try {
              rmdirSync(c.dir);
            } catch {
              /* best effort */
            }
          }
        });
      }
    }
    try {
      writeFileSync(path.join(cg.dir, 'pids.max'), String(Math.max(1, Math.floor(maxProcs))));
      return cg;
    } catch {
      return null;
    }
  }

  get procsFile(): string {
    return path.join(this.dir, 'cgroup.procs');
  }

  /**
   * Move a process in. Rejects when the kernel refuses (the caller fails closed). Async on purpose:
   * a cgroup migration waits for an RCU grace period, which must not stall the event loop.
   */
  join(pid: number): Promise<void> {
    return writeFile(this.procsFile, String(pid));
  }

  /** Kill whatever is left, then park the group for reuse, or remove it if something still lingers. */
  async release(): Promise<void> {
    await emptyAndRelease(this.dir, this.procsFile, () => idle.length < 16 && idle.push(this) > 0);
  }
}
