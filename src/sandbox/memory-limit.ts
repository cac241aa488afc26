/**
 * A memory cgroup per sandbox, so every byte a process-isolated agent touches counts (V8 heap, Buffers,
 * ArrayBuffers, WebAssembly memory, tmpfs files), not just the old space `--max-old-space-size` covers.
 * cgroup v1 (memory.limit_in_bytes + memory.memsw.limit_in_bytes, oom_kill in memory.oom_control) and
 * cgroup v2 (memory.max, memory.swap.max = 0, oom_kill in memory.events). Going over makes the kernel
 * kill the sandbox's process; the oom_kill counter, sampled when the sandbox exits, tells the run why.
 *
 * Without a memory cgroup process isolation fails closed (sandbox_unavailable, reason in status):
 * RLIMIT_AS is no substitute, because V8 reserves far more address space than it uses and a cap low
 * enough to matter stops Node from starting at all.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pidsCgroupBase, type PidsCgroup } from './limits.js';
import { emptyAndRelease } from './cgroup-release.js';

/** Node's own footprint (code, young generation, libuv) on top of the agent's memoryMb. */
export const NODE_SLACK_MB = 64;

type Kind = 'cgroup-v1' | 'cgroup-v2';
let base: { kind: Kind; dir: string } | null | undefined;
let reason = '';

function mounts(): Array<{ fstype: string; mnt: string; opts: string[] }> {
  const out = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts] = post.split(' ');
    const mnt = pre.split(' ')[4];
    if (fstype && mnt) out.push({ fstype, mnt, opts: (superOpts ?? '').split(',') });
  }
  return out;
}

function probe(kind: Kind, dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  if (kind === 'cgroup-v2' && !readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory')) {
    writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+memory');
  }
  const p = path.join(dir, `probe-${process.pid}`);
  mkdirSync(p);
  try {
    return existsSync(path.join(p, kind === 'cgroup-v1' ? 'memory.limit_in_bytes' : 'memory.max'));
  } finally {
    rmdirSync(p);
  }
}

function found(b: { kind: Kind; dir: string }): { kind: Kind; dir: string } {
  base = b;
  sweepStaleMemoryGroups();
  return b;
}

/** Find (once) a memory cgroup directory below our own that we may create per-run groups in. */
export function memoryCgroupBase(): { kind: Kind; dir: string } | null {
  if (base !== undefined) return base;
  base = null;
  if (process.env.CLAWGUARD_SANDBOX_CGROUP === 'off') {
    reason = 'cgroups are disabled by CLAWGUARD_SANDBOX_CGROUP=off';
    return base;
  }
  try {
    const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
    const all = mounts();
    for (const m of all.filter((x) => x.fstype === 'cgroup' && x.opts.includes('memory'))) {
      const rel = own.find((l) => l.split(':')[1]?.split(',').includes('memory'))?.split(':')[2] ?? '/';
      const dir = path.join(m.mnt, rel, 'clawguard-sandbox');
      try {
        if (probe('cgroup-v1', dir)) return found({ kind: 'cgroup-v1', dir });
      } catch (e) {
        reason = `cannot create a memory cgroup under ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      }
    }
    for (const m of all.filter((x) => x.fstype === 'cgroup2')) {
      const mine = path.join(m.mnt, own.find((l) => l.startsWith('0::'))?.slice(3) ?? '/');
      try {
        if (!readFileSync(path.join(mine, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
          reason ||= `cgroup v2 at ${mine} offers no memory controller`;
          continue;
        }
        if (!readFileSync(path.join(mine, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory')) writeFileSync(path.join(mine, 'cgroup.subtree_control'), '+memory');
        const dir = path.join(mine, 'clawguard-sandbox');
        if (probe('cgroup-v2', dir)) return found({ kind: 'cgroup-v2', dir });
      } catch (e) {
        reason = `cannot use the memory controller of cgroup v2 at ${mine}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      }
    }
    reason ||= 'no memory cgroup controller is mounted';
  } catch (e) {
    reason = `cannot inspect cgroups: ${(e as Error).message}`;
  }
  return base;
}

/** For `status`: how a process-isolated agent's memory is bounded here, or why it cannot be. */
export function memoryLimitStatus(): { kind: Kind | 'none'; reason?: string } {
  const b = memoryCgroupBase();
  return b ? { kind: b.kind } : { kind: 'none', reason: `${reason}; process isolation refuses to run without a memory cgroup (RLIMIT_AS cannot bound Node)` };
}

/** Forget the detection (tests that flip CLAWGUARD_SANDBOX_CGROUP). */
export function resetMemoryCgroupDetection(): void {
  base = undefined;
  reason = '';
}

let seq = 0;
/** Idle groups, reused like the pids ones (v1 keeps a dead group's page-cache charge around otherwise). */
const idle: MemoryCgroup[] = [];
let exitHook = false;

/** One sandbox's memory cgroup. `shared`: v2, where the pids group is the same directory (one hierarchy). */
export class MemoryCgroup {
  private baseline = 0;
  /** Set when the sandbox exits (sampled before the group is released). */
  oomKilled = false;

  private constructor(
    readonly kind: Kind,
    readonly dir: string,
    private readonly shared: boolean,
  ) {}

  /** A group capped at `limitBytes`; throws (the caller fails closed) when none can be had. */
  static acquire(limitBytes: number, pids: PidsCgroup | null): MemoryCgroup {
    const b = memoryCgroupBase();
    if (!b) throw new Error(memoryLimitStatus().reason);
    let cg: MemoryCgroup | undefined;
    // In cgroup v2 a process is in exactly one group: when the pids group lives there too, the limit goes on it.
    if (b.kind === 'cgroup-v2' && pids && pidsCgroupBase()?.kind === 'cgroup-v2' && path.dirname(pids.dir) === b.dir) cg = new MemoryCgroup(b.kind, pids.dir, true);
    cg ??= idle.pop();
    if (!cg) {
      const dir = path.join(b.dir, `run-${process.pid}-${++seq}`);
      mkdirSync(dir);
      cg = new MemoryCgroup(b.kind, dir, false);
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
    const bytes = String(Math.max(16 * 1024 * 1024, Math.floor(limitBytes)));
    if (cg.kind === 'cgroup-v1') {
      // memsw (memory + swap) must stay >= the memory limit, so order the writes by direction of change.
      const memsw = path.join(cg.dir, 'memory.memsw.limit_in_bytes');
      const hasMemsw = existsSync(memsw);
      const cur = Number(readFileSync(path.join(cg.dir, 'memory.limit_in_bytes'), 'utf8'));
      if (hasMemsw && Number(bytes) > cur) writeFileSync(memsw, bytes);
      writeFileSync(path.join(cg.dir, 'memory.limit_in_bytes'), bytes);
      if (hasMemsw) writeFileSync(memsw, bytes);
      writeFileSync(path.join(cg.dir, 'memory.swappiness'), '0');
    } else {
      writeFileSync(path.join(cg.dir, 'memory.max'), bytes);
      if (existsSync(path.join(cg.dir, 'memory.swap.max'))) writeFileSync(path.join(cg.dir, 'memory.swap.max'), '0');
      if (existsSync(path.join(cg.dir, 'memory.oom.group'))) writeFileSync(path.join(cg.dir, 'memory.oom.group'), '1');
    }
    cg.baseline = cg.oomKills();
    cg.oomKilled = false;
    return cg;
  }

  /** The kernel's cumulative count of OOM kills in this group (0 when the kernel does not say). */
  oomKills(): number {
    try {
      const file = this.kind === 'cgroup-v1' ? 'memory.oom_control' : 'memory.events';
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(path.join(this.dir, file), 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Call when the sandbox has exited: records whether the kernel killed something in it for memory. */
  sampleAtExit(): void {
    this.oomKilled = this.oomKills() > this.baseline;
  }

  /** Move a process in before it runs anything (the shared v2 group is joined by the pids code). */
  join(pid: number): Promise<void> {
    return this.shared ? Promise.resolve() : writeFile(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  async release(): Promise<void> {
    if (this.shared) return;
    await emptyAndRelease(this.dir, path.join(this.dir, 'cgroup.procs'), () => idle.length < 16 && idle.push(this) > 0);
  }
}

/** Remove per-run memory groups of gateways that are gone (empty ones only). */
export function sweepStaleMemoryGroups(): void {
  const b = memoryCgroupBase();
  if (!b) return;
  try {
    for (const name of readdirSync(b.dir)) {
      const m = /^run-(\d+)-\d+$/.exec(name);
      if (!m || Number(m[1]) === process.pid) continue;
      try {
        process.kill(Number(m[1]), 0);
        continue;
      } catch {
        /* owner gone */
      }
      try {
        rmdirSync(path.join(b.dir, name));
      } catch {
        /* still in use */
      }
    }
  } catch {
    /* nothing to sweep */
  }
}
