/**
 * Path guard: the second line behind policy for fs.* tools. `canonical()` turns what the agent wrote
 * into the one path the tool will open (path-walk.ts); the policy decides on that path and the audit
 * records it. The operations then open exactly that path, never resolving it again: each open refuses
 * to follow a symlink, and the descriptor it yields must be that path (/proc/self/fd/N) and must not be
 * a protected object, so a swap in between fails the call. Inside a root that holds blocked paths,
 * opens walk one directory descriptor at a time (openat() through /proc/self/fd/<dir>/<name>), checking
 * each directory's identity on the very object the next lookup goes through. Writes always walk so.
 *
 * Messages name the path as the agent gave it (or the canonical path, once inside an allowed root) and
 * never what a symlink pointed at.
 */
import { closeSync, constants as C, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ClawguardError, type ErrorCode } from '../errors/index.js';
import { lexicalCanonical, showPath } from './path-canonical.js';
import { ProtectedIdentities } from './path-identity.js';
import { PathPolicy, type PathDenial, type PathVerdict } from './path-policy.js';
import { movedDenial, walkCanonical, type WalkProblem } from './path-walk.js';

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
  /** Test seam: runs after canonicalisation and before the open, to stage a race deterministically. */
  beforeOpen?: (canonical: string, mode: AccessMode) => void | Promise<void>;
  /** How often the identities of blocked paths are re-read (default 1000 ms). */
  identityTtlMs?: number;
}

/** `exact`: `p` is a canonical path from canonical(); it is opened as it is and never resolved again. */
export interface OpenOptions {
  exact?: boolean;
}

export interface PathGuard {
  readonly workspace: string | undefined;
  /** `p` made absolute and lexically normal (file: URL, ~, workspace, ..), without touching the disk; bad_request when it names no path. */
  lexical(p: string): string;
  /** The canonical path `p` names, if it may be accessed in `mode`; throws path_blocked / bad_request / not_found otherwise. */
  canonical(p: string, mode: AccessMode): string;
  /** canonical(), as a promise. */
  resolve(p: string, mode: AccessMode): Promise<string>;
  /** Synchronous decision for an already canonical absolute path (no filesystem access). */
  decide(canonical: string): PathVerdict;
  readFile(p: string, opts?: { maxBytes?: number } & OpenOptions): Promise<{ content: Buffer; truncated: boolean; path: string; size: number }>;
  /** Creates missing parent directories only with createDirs: true (default false). */
  writeFile(p: string, data: string | Uint8Array, opts?: { maxBytes?: number; createDirs?: boolean } & OpenOptions): Promise<{ path: string; bytes: number; created: boolean }>;
  list(p: string, opts?: { maxEntries?: number } & OpenOptions): Promise<{ path: string; entries: Array<{ name: string; type: EntryType; size: number }>; truncated: boolean }>;
  stat(p: string, opts?: OpenOptions): Promise<{ path: string; type: EntryType; size: number; mtimeMs: number; mode: number }>;
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

const PROBLEMS: Record<WalkProblem, [ErrorCode, string]> = {
  loop: ['path_blocked', 'has too many levels of symlinks'],
  'not-directory': ['bad_request', 'has a non-directory where a directory is needed'],
  'symlink-write': ['path_blocked', 'is blocked: it passes through a symlink and writes never follow symlinks'],
  'root-write': ['bad_request', 'is an allowed root itself, not a file in it'],
  'not-found': ['not_found', 'does not exist'],
  inaccessible: ['forbidden', 'is not accessible to the gateway'],
};

export function createPathGuard(opts: PathGuardOptions): PathGuard {
  const policy = new PathPolicy(opts);
  const ids = new ProtectedIdentities(policy.protectedForms(), policy.allowed.map((a) => a.forms[a.forms.length - 1]!), opts.identityTtlMs);
  const workspace = opts.workspace ? path.resolve(opts.workspace) : undefined;
  const ctx = { workspace, home: opts.home };

  function deny(shown: string, v: PathDenial, extra = ''): never {
    const why =
      v.reason === 'hidden' ? 'it is inside a path the gateway never exposes'
      : v.reason === 'blocked' ? `it is under blocked path "${v.rule}"`
      : `it is outside the allowed paths (${policy.allowed.map((a) => a.entry).join(', ') || 'none configured'})`;
    throw new ClawguardError('path_blocked', `path ${showPath(shown)} is blocked: ${why}${extra}`, { details: { reason: v.reason } });
  }

  function changed(canonical: string): never {
    throw new ClawguardError('path_blocked', `path ${showPath(canonical)} changed while being opened (a rename or symlink swap after the check); the call is refused`, { details: { reason: 'race' } });
  }

  function canonical(input: string, mode: AccessMode): string {
    const lexical = lexicalCanonical(input, ctx);
    const w = walkCanonical(lexical, policy, ids, mode);
    if (w.ok) return w.path;
    if ('denial' in w) deny(input, w.denial, w.moved ? ' (it was moved or linked here from there)' : w.followed ? ' (reached through a symlink)' : '');
    const [code, what] = PROBLEMS[w.problem];
    throw new ClawguardError(code, `path ${showPath(input)} ${what}`);
  }

  /** The identity check on an object met while opening `p` (a directory on the way, or the target). */
  function checkIdentity(st: Stats, at: string, p: string): void {
    const was = ids.lookup(st);
    if (was === undefined || was === at) return;
    const d = movedDenial(p, [{ at, was }], policy);
    if (d) deny(p, d, ' (it was moved or linked here from there)');
  }

  function mapOpenError(e: unknown, p: string, mode: AccessMode): never {
    const code = (e as NodeJS.ErrnoException).code;
    const what = showPath(p);
    if (code === 'ENOENT') throw new ClawguardError('not_found', `path ${what} does not exist`);
    if (code === 'ELOOP') changed(p);
    if (code === 'EISDIR') throw new ClawguardError('bad_request', `path ${what} is a directory`);
    if (code === 'ENOTDIR') throw new ClawguardError('bad_request', `path ${what} has a non-directory where a directory is needed`);
    if (code === 'EACCES' || code === 'EPERM') throw new ClawguardError('forbidden', `path ${what} is not accessible to the gateway (${code})`);
    if (code === 'ENXIO') throw new ClawguardError('bad_request', `path ${what} is not a regular file (socket or device)`);
    throw new ClawguardError('tool_failed', `path ${what} could not be opened for ${mode === 'write' ? 'writing' : 'reading'} (${code ?? 'error'})`);
  }

  /** The canonical path to open: `p` itself when exact (checked to be canonical), else canonical(p). */
  async function target(p: string, mode: AccessMode, o: OpenOptions | undefined): Promise<{ real: string; root: string }> {
    let real: string;
    if (o?.exact) {
      if (typeof p !== 'string' || !path.isAbsolute(p) || path.resolve(p) !== p || p.includes('\0')) {
        throw new ClawguardError('bad_request', `path ${showPath(String(p))} is not a canonical absolute path`);
      }
      real = p;
    } else real = canonical(p, mode);
    if (opts.beforeOpen) await opts.beforeOpen(real, mode);
    const v = policy.decide(real);
    if (!v.ok) deny(real, v);
    ids.refresh();
    return { real, root: policy.realForm(v.root) };
  }

  /**
   * Open directory `name` inside the directory descriptor `dir`, never following a symlink. The walk is
   * synchronous: a few microseconds per directory, where each asynchronous call costs a thread-pool trip.
   */
  function openChildDir(dir: number, name: string, create: boolean, real: string): number {
    const p = `/proc/self/fd/${dir}/${name}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return openSync(p, C.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && create && attempt === 0) {
          try {
            mkdirSync(p, { mode: 0o755 });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') mapOpenError(err, real, 'write');
          }
          continue;
        }
        if (code === 'ELOOP' || code === 'ENOTDIR') {
          // Not a directory, or a symlink: either the path changed after the check, or it never was one.
          if (lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()) changed(real);
          throw new ClawguardError('bad_request', `path ${showPath(real)}: component "${name}" is not a directory`);
        }
        mapOpenError(e, real, 'read');
      }
    }
    throw new ClawguardError('not_found', `path ${showPath(real)}: directory "${name}" vanished while being created`);
  }

  /**
   * Open the directory that holds `real`'s last component, one descriptor at a time from the root,
   * checking each directory's identity. Returns its descriptor (the caller closes it) and the last name.
   */
  function openParent(real: string, root: string, createDirs: boolean): { dir: number; base: string } {
    const parts = real === root ? [] : real.slice(root === '/' ? 1 : root.length + 1).split('/');
    const base = parts.pop() ?? '';
    let dir: number;
    try {
      dir = openSync(root, C.O_RDONLY | O_DIRECTORY);
    } catch (e) {
      mapOpenError(e, real, 'read');
    }
    let at = root;
    try {
      for (const name of parts) {
        const next = openChildDir(dir, name, createDirs, real);
        closeSync(dir);
        dir = next;
        at = at === '/' ? `/${name}` : `${at}/${name}`;
        checkIdentity(fstatSync(dir), at, real);
      }
    } catch (e) {
      closeSync(dir);
      throw e;
    }
    return { dir, base };
  }

  /** Where an open descriptor really is: it must be exactly `real`, and not a protected object. */
  async function verifyOpened(fh: FileHandle, real: string): Promise<Stats> {
    const st = await fh.stat();
    if (procFdAvailable()) {
      if ((await readlink(`/proc/self/fd/${fh.fd}`)) !== real) changed(real);
    } else {
      const now = await lstat(real).catch(() => null);
      if (!now || now.ino !== st.ino || now.dev !== st.dev) changed(real);
    }
    checkIdentity(st, real, real);
    return st;
  }

  async function openExisting(p: string, flags: number, o: OpenOptions | undefined): Promise<{ fh: FileHandle; real: string; st: Stats }> {
    const { real, root } = await target(p, 'read', o);
    let fh: FileHandle;
    if (procFdAvailable() && ids.guards(root) && real !== root) {
      const { dir, base } = openParent(real, root, false);
      try {
        fh = await open(`/proc/self/fd/${dir}/${base}`, flags | O_NOFOLLOW | O_NONBLOCK).catch((e) => mapOpenError(e, real, 'read'));
      } finally {
        closeSync(dir);
      }
    } else {
      fh = await open(real, flags | O_NOFOLLOW | O_NONBLOCK).catch((e) => {
        // O_DIRECTORY|O_NOFOLLOW on a symlink reports ENOTDIR: a symlink here means the path changed.
        if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return lstat(real).then((s) => (s.isSymbolicLink() ? changed(real) : mapOpenError(e, real, 'read')), () => mapOpenError(e, real, 'read'));
        return mapOpenError(e, real, 'read');
      });
    }
    try {
      return { fh, real, st: await verifyOpened(fh, real) };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async function readFile(input: string, o: { maxBytes?: number } & OpenOptions = {}) {
    const maxBytes = Math.max(0, o.maxBytes ?? DEFAULT_MAX_READ);
    const { fh, real, st } = await openExisting(input, C.O_RDONLY, o);
    try {
      if (st.isDirectory()) throw new ClawguardError('bad_request', `path ${showPath(real)} is a directory; use list`);
      if (!st.isFile()) throw new ClawguardError('bad_request', `path ${showPath(real)} is not a regular file`);
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
      return { content, truncated, path: real, size: st.size };
    } finally {
      await fh.close();
    }
  }

  async function writeFile(input: string, data: string | Uint8Array, o: { maxBytes?: number; createDirs?: boolean } & OpenOptions = {}) {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const maxBytes = o.maxBytes ?? DEFAULT_MAX_WRITE;
    if (buf.length > maxBytes) throw new ClawguardError('bad_request', `write to ${showPath(input)} refused: ${buf.length} bytes exceeds the ${maxBytes}-byte limit`);
    const { real, root } = await target(input, 'write', o);
    if (real === root) throw new ClawguardError('bad_request', `path ${showPath(real)} is an allowed root itself, not a file in it`);
    let fh: FileHandle;
    let created = false;
    if (procFdAvailable()) {
      const { dir, base } = openParent(real, root, o.createDirs ?? false);
      try {
        const at = `/proc/self/fd/${dir}/${base}`;
        try {
          fh = await open(at, C.O_WRONLY | C.O_CREAT | C.O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
          created = true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') mapOpenError(e, real, 'write');
          fh = await open(at, C.O_WRONLY | O_NOFOLLOW | O_NONBLOCK).catch((e2) => mapOpenError(e2, real, 'write'));
        }
      } finally {
        closeSync(dir);
      }
    } else {
      if (o.createDirs ?? false) await mkdir(path.dirname(real), { recursive: true });
      fh = await open(real, C.O_WRONLY | C.O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644).catch((e) => mapOpenError(e, real, 'write'));
    }
    try {
      const st = await verifyOpened(fh, real);
      if (!created) {
        if (!st.isFile()) throw new ClawguardError('bad_request', `path ${showPath(real)} is not a regular file`);
        // A hard link would let a write land in a file that also lives outside the root.
        if (st.nlink > 1) throw new ClawguardError('path_blocked', `path ${showPath(real)} is blocked: it has ${st.nlink} hard links; writes refuse shared inodes`);
        await fh.truncate(0);
      }
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off, off);
        off += bytesWritten;
      }
      return { path: real, bytes: buf.length, created };
    } finally {
      await fh.close();
    }
  }

  async function list(input: string, o: { maxEntries?: number } & OpenOptions = {}) {
    const maxEntries = o.maxEntries ?? 10_000;
    const { fh, real, st } = await openExisting(input, C.O_RDONLY | O_DIRECTORY, o);
    try {
      if (!st.isDirectory()) throw new ClawguardError('bad_request', `path ${showPath(real)} is not a directory`);
      const base = procFdAvailable() ? `/proc/self/fd/${fh.fd}` : real;
      const dirents = await readdir(base, { withFileTypes: true }).catch((e) => mapOpenError(e, real, 'read'));
      const entries: Array<{ name: string; type: EntryType; size: number }> = [];
      let truncated = false;
      for (const d of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const child = path.join(real, d.name);
        // Hidden and blocked children are not even named, by path or by identity.
        if (!policy.decide(child).ok) continue;
        const cst = await lstat(`${base}/${d.name}`).catch(() => null);
        if (cst) {
          const was = ids.lookup(cst);
          if (was !== undefined && was !== child && movedDenial(child, [{ at: child, was }], policy)) continue;
        }
        if (entries.length >= maxEntries) {
          truncated = true;
          break;
        }
        entries.push({ name: d.name, type: cst ? typeOf(cst) : typeOf(d), size: cst?.isFile() ? cst.size : 0 });
      }
      return { path: real, entries, truncated };
    } finally {
      await fh.close();
    }
  }

  async function stat(input: string, o: OpenOptions = {}) {
    const { fh, real, st } = await openExisting(input, C.O_RDONLY, o);
    await fh.close();
    return { path: real, type: typeOf(st), size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
  }

  return { workspace, lexical: (p) => lexicalCanonical(p, ctx), canonical, resolve: async (p, mode) => canonical(p, mode), decide: (p) => policy.decide(p), readFile, writeFile, list, stat };
}
