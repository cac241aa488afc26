/**
 * Path guard: the second line behind policy for fs.* tools. Decides on canonical paths, then opens
 * without following a final symlink and checks where the opened descriptor really is
 * (/proc/self/fd/N), so a symlink swapped in between the check and the open cannot lead outside.
 * Writes walk from the allowed root one component at a time through /proc/self/fd/<dir>/<name>
 * (an openat() in effect) with O_NOFOLLOW, so they never follow a symlink and only create inside a root.
 */
import { constants as C, readlinkSync, openSync, closeSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { lexicalCanonical, realpathLongestPrefix, showPath } from './path-canonical.js';
import { PathPolicy, type PathVerdict } from './path-policy.js';

export type AccessMode = 'read' | 'write';
export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface PathGuardOptions {
  allowedPaths: string[];
  blockedPaths: string[];
  /** Base for relative paths; must itself be allowed to be useful. */
  workspace?: string;
  /** For `~` expansion; defaults to os.homedir(). */
  home?: string;
  /** Always refused, never listed, never named in messages (the gateway's state dir). */
  hiddenPaths?: string[];
  /** Test seam: runs after the decision and before the open, to stage a symlink race deterministically. */
  beforeOpen?: (canonical: string, mode: AccessMode) => void | Promise<void>;
}

export interface PathGuard {
  readonly workspace: string | undefined;
  /** Canonical real path if `p` may be accessed in `mode`; throws path_blocked / bad_request otherwise. */
  resolve(p: string, mode: AccessMode): Promise<string>;
  /** Synchronous decision for an already canonical absolute path (no filesystem access). */
  decide(canonical: string): PathVerdict;
  readFile(p: string, opts?: { maxBytes?: number }): Promise<{ content: Buffer; truncated: boolean; path: string; size: number }>;
  /** Creates missing parent directories only with createDirs: true (default false). */
  writeFile(p: string, data: string | Uint8Array, opts?: { maxBytes?: number; createDirs?: boolean }): Promise<{ path: string; bytes: number; created: boolean }>;
  list(p: string, opts?: { maxEntries?: number }): Promise<{ path: string; entries: Array<{ name: string; type: EntryType; size: number }>; truncated: boolean }>;
  stat(p: string): Promise<{ path: string; type: EntryType; size: number; mtimeMs: number; mode: number }>;
}

const DEFAULT_MAX_READ = 1024 * 1024;
const DEFAULT_MAX_WRITE = 10 * 1024 * 1024;
const O_NOFOLLOW = C.O_NOFOLLOW ?? 0;
const O_NONBLOCK = C.O_NONBLOCK ?? 0;
const O_DIRECTORY = C.O_DIRECTORY ?? 0;

let procFdOk: boolean | undefined;
/** Whether /proc/self/fd/N names the opened file (Linux with /proc mounted). */
export function procFdAvailable(): boolean {
  if (procFdOk === undefined) {
    try {
      const fd = openSync('/', 'r');
      try {
        procFdOk = readlinkSync(`/proc/self/fd/${fd}`) === '/';
      } finally {
        closeSync(fd);
      }
    } catch {
      procFdOk = false;
    }
  }
  return procFdOk;
}

function typeOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType {
  return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
}

export function createPathGuard(opts: PathGuardOptions): PathGuard {
  const policy = new PathPolicy(opts);
  const workspace = opts.workspace ? path.resolve(opts.workspace) : undefined;
  const ctx = { workspace, home: opts.home };

  const describe = (input: string, canonical: string) => (input === canonical ? showPath(canonical) : `${showPath(input)} (→ ${showPath(canonical)})`);

  function deny(input: string, canonical: string, v: PathVerdict, extra = ''): never {
    const what = describe(input, canonical);
    if (v.ok) throw new Error('deny() called with an allowing verdict');
    const why =
      v.reason === 'hidden' ? 'it is inside a path the gateway never exposes'
      : v.reason === 'blocked' ? `it is under blocked path "${v.rule}"`
      : `it is outside the allowed paths (${policy.allowed.map((a) => a.entry).join(', ') || 'none configured'})`;
    throw new ClawguardError('path_blocked', `path ${what} is blocked: ${why}${extra}`, { details: { path: canonical, reason: v.reason } });
  }

  async function resolve(input: string, mode: AccessMode): Promise<string> {
    const lexical = lexicalCanonical(input, ctx);
    // Decide on the lexical form first: "/etc/x" is refused without touching the disk.
    const lv = policy.decide(lexical);
    if (!lv.ok) deny(input, lexical, lv);
    let real: string;
    try {
      real = (await realpathLongestPrefix(lexical)).real;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ClawguardError(code === 'ELOOP' ? 'path_blocked' : 'bad_request', `path ${describe(input, lexical)} cannot be resolved (${code ?? 'error'})`);
    }
    const rv = policy.decide(real);
    if (!rv.ok) deny(input, real, rv, real !== lexical ? ' (reached through a symlink)' : '');
    if (mode === 'write') {
      if (real === rv.root) throw new ClawguardError('bad_request', `path ${describe(input, real)} is an allowed root itself, not a file in it`);
      // Writes never follow symlinks: below its root, the real path must spell exactly what was asked.
      if (real !== lexical && lv.ok) {
        const rootReal = await realpath(lv.root).catch(() => lv.root);
        if (path.join(rootReal, path.relative(lv.root, lexical)) !== real) {
          throw new ClawguardError('path_blocked', `path ${describe(input, real)} is blocked: it passes through a symlink and writes never follow symlinks`, {
            details: { path: real, reason: 'symlink' },
          });
        }
      }
    }
    return real;
  }

  /** Where an open descriptor really is, re-decided. Catches a swap that happened after resolve(). */
  async function verifyOpened(fh: FileHandle, input: string, expected: string): Promise<string> {
    let actual: string;
    if (procFdAvailable()) {
      actual = await readlink(`/proc/self/fd/${fh.fd}`);
    } else {
      // Fallback without /proc: the path we checked must still name the inode we hold.
      const [a, b] = await Promise.all([fh.stat(), lstat(expected)]);
      if (a.ino !== b.ino || a.dev !== b.dev) actual = '(changed)';
      else actual = expected;
    }
    const v = actual.startsWith('/') ? policy.decide(actual) : ({ ok: false, reason: 'outside' } as const);
    if (!v.ok) {
      throw new ClawguardError('path_blocked', `path ${describe(input, expected)} changed while being opened and now leads to a path that is not allowed (symlink race?)`, {
        details: { path: expected, reason: 'race' },
      });
    }
    return actual;
  }

  function mapOpenError(e: unknown, input: string, canonical: string, mode: AccessMode): never {
    const code = (e as NodeJS.ErrnoException).code;
    const what = describe(input, canonical);
    if (code === 'ENOENT') throw new ClawguardError('not_found', `path ${what} does not exist`);
    if (code === 'ELOOP') throw new ClawguardError('path_blocked', `path ${what} is a symlink that was not resolved at check time (dangling, looping or swapped in); ${mode === 'write' ? 'writes never follow symlinks' : 'it is not followed'}`);
    if (code === 'EISDIR') throw new ClawguardError('bad_request', `path ${what} is a directory`);
    if (code === 'ENOTDIR') throw new ClawguardError('bad_request', `path ${what} has a non-directory where a directory is needed`);
    if (code === 'EACCES' || code === 'EPERM') throw new ClawguardError('forbidden', `path ${what} is not accessible to the gateway (${code})`);
    if (code === 'ENXIO') throw new ClawguardError('bad_request', `path ${what} is not a regular file (socket or device)`);
    throw new ClawguardError('tool_failed', `path ${what}: ${(e as Error).message}`);
  }

  async function openChecked(input: string, mode: AccessMode, flags: number): Promise<{ fh: FileHandle; real: string; actual: string }> {
    const real = await resolve(input, mode);
    if (opts.beforeOpen) await opts.beforeOpen(real, mode);
    let fh: FileHandle;
    try {
      fh = await open(real, flags | O_NOFOLLOW | O_NONBLOCK);
    } catch (e) {
      // O_DIRECTORY|O_NOFOLLOW on a symlink reports ENOTDIR, not ELOOP: say what it really is.
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR' && (await lstat(real).then((s) => s.isSymbolicLink(), () => false))) {
        throw new ClawguardError('path_blocked', `path ${describe(input, real)} is a symlink that was not resolved at check time (it changed after the check); it is not followed`);
      }
      mapOpenError(e, input, real, mode);
    }
    try {
      const actual = await verifyOpened(fh, input, real);
      return { fh, real, actual };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async function readFile(input: string, o: { maxBytes?: number } = {}) {
    const maxBytes = Math.max(0, o.maxBytes ?? DEFAULT_MAX_READ);
    const { fh, real, actual } = await openChecked(input, 'read', C.O_RDONLY);
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new ClawguardError('bad_request', `path ${describe(input, real)} is a directory; use list`);
      if (!st.isFile()) throw new ClawguardError('bad_request', `path ${describe(input, real)} is not a regular file`);
      // Read one byte past the cap to know whether we truncated; /proc-like files report size 0.
      const want = maxBytes + 1;
      const buf = Buffer.allocUnsafe(Math.min(want, Math.max(st.size + 1, 64 * 1024)));
      let chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const room = Math.min(buf.length, want - total);
        if (room <= 0) break;
        const { bytesRead } = await fh.read(buf, 0, room, null);
        if (bytesRead === 0) break;
        chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
        total += bytesRead;
      }
      let content = Buffer.concat(chunks, total);
      chunks = [];
      const truncated = content.length > maxBytes;
      if (truncated) content = content.subarray(0, maxBytes);
      return { content, truncated, path: actual, size: st.size };
    } finally {
      await fh.close();
    }
  }

  /** Open directory `name` inside the directory held by `dir`, never following a symlink. */
  async function openChildDir(dir: FileHandle, name: string, create: boolean, input: string, canonical: string): Promise<FileHandle> {
    const p = `/proc/self/fd/${dir.fd}/${name}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await open(p, C.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && create && attempt === 0) {
          await mkdir(p, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'EEXIST') throw err;
          });
          continue;
        }
        if (code === 'ELOOP' || code === 'ENOTDIR') {
          throw new ClawguardError('path_blocked', `path ${describe(input, canonical)} is blocked: component "${name}" is a symlink or not a directory; writes never follow symlinks`);
        }
        mapOpenError(e, input, canonical, 'write');
      }
    }
    throw new ClawguardError('not_found', `path ${describe(input, canonical)}: directory "${name}" vanished while being created`);
  }

  async function writeFile(input: string, data: string | Uint8Array, o: { maxBytes?: number; createDirs?: boolean } = {}) {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const maxBytes = o.maxBytes ?? DEFAULT_MAX_WRITE;
    if (buf.length > maxBytes) throw new ClawguardError('bad_request', `write to ${showPath(input)} refused: ${buf.length} bytes exceeds the ${maxBytes}-byte limit`);
    const real = await resolve(input, 'write');
    if (opts.beforeOpen) await opts.beforeOpen(real, 'write');
    const v = policy.decide(real);
    if (!v.ok) deny(input, real, v);
    let fh: FileHandle;
    let created = false;
    if (procFdAvailable()) {
      // Walk from the allowed root, component by component, without following any symlink.
      // v.root prefixes a fully resolved path, so it is itself a real path.
      const root = v.root;
      const parts = path.relative(root, real).split('/');
      const base = parts.pop()!;
      let dir = await open(root, C.O_RDONLY | O_DIRECTORY);
      try {
        for (const name of parts) {
          const next = await openChildDir(dir, name, o.createDirs ?? false, input, real);
          await dir.close();
          dir = next;
        }
        const target = `/proc/self/fd/${dir.fd}/${base}`;
        try {
          fh = await open(target, C.O_WRONLY | C.O_CREAT | C.O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
          created = true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') mapOpenError(e, input, real, 'write');
          try {
            fh = await open(target, C.O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
          } catch (e2) {
            mapOpenError(e2, input, real, 'write');
          }
        }
      } finally {
        await dir.close();
      }
    } else {
      if (o.createDirs ?? false) await mkdir(path.dirname(real), { recursive: true });
      try {
        fh = await open(real, C.O_WRONLY | C.O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
      } catch (e) {
        mapOpenError(e, input, real, 'write');
      }
    }
    try {
      const actual = await verifyOpened(fh, input, real);
      if (!created) {
        const st = await fh.stat();
        if (!st.isFile()) throw new ClawguardError('bad_request', `path ${describe(input, real)} is not a regular file`);
        // A hard link would let a write land in a file that also lives outside the root.
        if (st.nlink > 1) throw new ClawguardError('path_blocked', `path ${describe(input, real)} is blocked: it has ${st.nlink} hard links; writes refuse shared inodes`);
        await fh.truncate(0);
      }
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off, off);
        off += bytesWritten;
      }
      return { path: actual, bytes: buf.length, created };
    } finally {
      await fh.close();
    }
  }

  async function list(input: string, o: { maxEntries?: number } = {}) {
    const maxEntries = o.maxEntries ?? 10_000;
    const { fh, real, actual } = await openChecked(input, 'read', C.O_RDONLY | O_DIRECTORY);
    try {
      const base = procFdAvailable() ? `/proc/self/fd/${fh.fd}` : real;
      const dirents = await readdir(base, { withFileTypes: true }).catch((e) => mapOpenError(e, input, real, 'read'));
      const entries: Array<{ name: string; type: EntryType; size: number }> = [];
      let truncated = false;
      for (const d of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        // Hidden and blocked children are not even named.
        if (!policy.decide(path.join(actual, d.name)).ok) continue;
        if (entries.length >= maxEntries) {
          truncated = true;
          break;
        }
        const st = await lstat(`${base}/${d.name}`).catch(() => null);
        entries.push({ name: d.name, type: st ? typeOf(st) : typeOf(d), size: st?.isFile() ? st.size : 0 });
      }
      return { path: actual, entries, truncated };
    } finally {
      await fh.close();
    }
  }

  async function stat(input: string) {
    const { fh, actual } = await openChecked(input, 'read', C.O_RDONLY);
    try {
      const st = await fh.stat();
      return { path: actual, type: typeOf(st), size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
    } finally {
      await fh.close();
    }
  }

  return { workspace, resolve, decide: (p) => policy.decide(p), readFile, writeFile, list, stat };
}
