/**
 * File descriptors the gateway inherited without close-on-exec (from its own parent: a shell, a
 * supervisor, a test harness) would pass straight through bwrap into the sandbox, and an open
 * descriptor ignores every mount and namespace. Node opens everything close-on-exec, so these are the
 * only leaks; each spawn covers them with /dev/null in the child (the parent's copies stay untouched).
 */
import { openSync, readFileSync, readdirSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;
/** fd number → whether it is close-on-exec, as of the last look. */
const known = new Map<number, boolean>();
let devNull: number | undefined;

/** Descriptors above 2 that a child would inherit. Linux only (empty elsewhere). */
export function inheritableFds(): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const present = new Set<number>();
  for (const n of names) {
    const fd = Number(n);
    if (!Number.isInteger(fd) || fd < 3) continue;
    present.add(fd);
    if (known.has(fd)) continue; // node never opens without O_CLOEXEC, so a seen number keeps its flag
    try {
      const m = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      known.set(fd, m ? (parseInt(m[1]!, 8) & O_CLOEXEC) !== 0 : true);
    } catch {
      /* closed meanwhile (it was the readdir's own descriptor, say) */
    }
  }
  for (const fd of known.keys()) if (!present.has(fd)) known.delete(fd);
  return [...known].filter(([, cloexec]) => !cloexec).map(([fd]) => fd);
}

/**
 * Extend a spawn stdio array so every inheritable descriptor is replaced by /dev/null in the child.
 * Slots the caller already uses keep their meaning.
 */
export function shieldStdio<T>(stdio: T[]): Array<T | number | 'ignore'> {
  const leaks = inheritableFds().filter((fd) => fd >= stdio.length);
  if (leaks.length === 0) return stdio;
  devNull ??= openSync('/dev/null', 'r');
  const out: Array<T | number | 'ignore'> = [...stdio];
  const max = Math.max(...leaks);
  for (let i = stdio.length; i <= max; i++) out.push('ignore');
  for (const fd of leaks) out[fd] = devNull;
  return out;
}
