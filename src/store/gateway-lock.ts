/**
 * One gateway per state dir: `gateway.lock` holds the pid of the gateway that owns the dir.
 *
 * The lock is created whole and atomically (written to a private temp file, then hard-linked into
 * place: link fails if the name exists), so a reader never sees a half-written lock. A lock whose
 * pid is dead is stale and taken over, under a second atomic guard file so that two starters
 * cannot both take over the same stale lock. Content that is not a lock this module wrote is
 * refused rather than overwritten: only the operator can tell what it is.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, lstatSync, openSync, readSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ClawguardError } from '../errors/index.js';

export const GATEWAY_LOCK_FILE = 'gateway.lock';
const MAX_LOCK_BYTES = 4096;

export interface GatewayLockInfo {
  pid: number;
  host: string;
  startedAt: string;
  /** Unique per acquisition: release removes the file only while it is still ours. */
  nonce: string;
}

export interface GatewayLock {
  readonly file: string;
  readonly info: GatewayLockInfo;
  /** The dead process whose lock was taken over, if any. */
  readonly tookOverFrom?: GatewayLockInfo;
  release(): void;
}

/** Locks this process holds: our own pid in a lock is alive, but only these are really held. */
const heldHere = new Set<string>();

export function gatewayLockPath(stateDir: string): string {
  return join(stateDir, GATEWAY_LOCK_FILE);
}

function validPid(v: unknown): v is number {
  // 0 and negatives address process groups in kill(): never treat them as a pid.
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** The lock's contents; undefined when absent; throws `conflict` for anything that is not our lock. */
export function readGatewayLock(file: string): GatewayLockInfo | undefined {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return undefined;
  }
  if (!st.isFile()) throw new ClawguardError('conflict', `${file} is not a plain file: remove it once you have checked that no gateway uses this state dir`);
  const buf = Buffer.alloc(MAX_LOCK_BYTES + 1);
  let n = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    n = readSync(fd, buf, 0, buf.length, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ClawguardError('conflict', `cannot read ${file}: ${(e as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  let info: unknown;
  try {
    if (n > MAX_LOCK_BYTES) throw new Error('too large');
    info = JSON.parse(buf.subarray(0, n).toString('utf8'));
  } catch {
    info = undefined;
  }
  const o = info as Partial<GatewayLockInfo> | undefined;
  if (!o || typeof o !== 'object' || !validPid(o.pid) || typeof o.nonce !== 'string' || typeof o.host !== 'string') {
    throw new ClawguardError('conflict', `${file} is not a gateway lock clawguard wrote: remove it once you have checked that no gateway uses this state dir`);
  }
  return { pid: o.pid, host: o.host, startedAt: typeof o.startedAt === 'string' ? o.startedAt : '?', nonce: o.nonce };
}

/** Whether the lock's owner still runs. EPERM means it exists (another user's process). */
function alive(info: GatewayLockInfo, file: string): boolean {
  if (info.host !== hostname()) return true; // cannot check another host's process: assume it runs
  if (info.pid === process.pid) return heldHere.has(file);
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Create `file` holding `info` atomically; false if the name exists. */
function linkInto(file: string, info: GatewayLockInfo): boolean {
  const tmp = `${file}.${info.nonce}.tmp`;
  writeFileSync(tmp, JSON.stringify(info), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

function held(file: string, by: GatewayLockInfo): ClawguardError {
  return new ClawguardError(
    'conflict',
    `another gateway (pid ${by.pid}${by.host !== hostname() ? ` on ${by.host}` : ''}, started ${by.startedAt}) holds ${file}: one gateway per state dir; stop it, or use another --state-dir`,
    { details: { pid: by.pid, host: by.host, lock: file } },
  );
}

const same = (a: GatewayLockInfo, b: GatewayLockInfo | undefined) => !!b && a.nonce === b.nonce && a.pid === b.pid;

/** Take the state dir's gateway lock (the dir must exist). Throws `conflict` naming the holder. */
export function acquireGatewayLock(stateDir: string, onWarning: (message: string) => void = () => undefined): GatewayLock {
  const file = gatewayLockPath(stateDir);
  const guard = `${file}.takeover`;
  const info: GatewayLockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), nonce: randomBytes(12).toString('hex') };
  let tookOverFrom: GatewayLockInfo | undefined;
  for (let attempt = 0; attempt < 5 && !linkInto(file, info); attempt++) {
    const holder = readGatewayLock(file);
    if (!holder) continue; // released meanwhile: try again
    if (alive(holder, file)) throw held(file, holder);
    // Stale. Only the holder of the guard may replace it; a guard left by a dead process is cleared.
    const guardInfo: GatewayLockInfo = { ...info, nonce: `${info.nonce}g${attempt}` };
    if (!linkInto(guard, guardInfo)) {
      const g = readGatewayLock(guard);
      if (g && alive(g, guard)) throw held(file, g);
      if (g && same(g, readGatewayLock(guard))) unlinkSync(guard);
      continue;
    }
    try {
      // Still the same stale lock (not one a live starter put there since)?
      if (same(holder, readGatewayLock(file))) {
        unlinkSync(file);
        tookOverFrom = holder;
      }
    } finally {
      unlinkSync(guard);
    }
  }
  if (!same(info, readGatewayLock(file))) {
    const now = readGatewayLock(file);
    if (now) throw held(file, now);
    throw new ClawguardError('conflict', `could not take ${file}: it kept changing (another gateway starting on this state dir?)`);
  }
  heldHere.add(file);
  if (tookOverFrom) onWarning(`took over ${file} from pid ${tookOverFrom.pid} (started ${tookOverFrom.startedAt}), which no longer runs: it did not stop cleanly`);
  let released = false;
  return {
    file,
    info,
    ...(tookOverFrom ? { tookOverFrom } : {}),
    release() {
      if (released) return;
      released = true;
      heldHere.delete(file);
      try {
        if (same(info, readGatewayLock(file))) unlinkSync(file);
      } catch {
        /* not ours any more, or unreadable: leave it */
      }
    },
  };
}
