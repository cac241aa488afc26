/** Giving a per-run cgroup back: the same for the pids and the memory controller. */
import { readFile, rmdir } from 'node:fs/promises';

/**
 * Kill whatever is left in the group (normally nothing: the pid namespace died with bwrap), then
 * `park` it for reuse (it answers false when the idle list is full: the group is removed), or
 * remove it if something still lingers after a second.
 */
export async function emptyAndRelease(dir: string, procsFile: string, park: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    let pids: number[];
    try {
      pids = (await readFile(procsFile, 'utf8')).split('\n').filter(Boolean).map(Number);
    } catch {
      return; // removed underneath us
    }
    if (pids.length === 0) {
      if (!park()) await rmdir(dir).catch(() => undefined);
      return;
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* raced with its exit */
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await rmdir(dir).catch(() => undefined);
}
