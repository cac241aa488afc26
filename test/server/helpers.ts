/** Helpers for the gateway's storage-fault tests: another process holding the store's lock. */
import { type ChildProcess, spawn } from 'node:child_process';

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Another process (the sqlite3 shell, as a backup tool would) takes the database's write lock
 * with BEGIN EXCLUSIVE and keeps it until release().
 */
export async function holdExclusiveLock(dbFile: string): Promise<HeldLock> {
  const p: ChildProcess = spawn('sqlite3', [dbFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  const spawned = new Promise<void>((res, rej) => {
    p.once('error', rej);
    p.once('spawn', () => res());
  });
  await spawned;
  p.stdin!.write(".timeout 5000\nBEGIN EXCLUSIVE;\nSELECT 'lock-' || 'held';\n");
  const t0 = Date.now();
  while (!out.includes('lock-held')) {
    if (p.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`sqlite3 did not take the lock: ${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    release: async () => {
      if (p.exitCode !== null) return;
      const exited = new Promise<void>((res) => p.once('exit', () => res()));
      p.stdin!.end('ROLLBACK;\n.quit\n');
      await exited;
    },
  };
}

/** Milliseconds one call takes. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}
