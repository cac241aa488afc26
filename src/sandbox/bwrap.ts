/**
 * The one bubblewrap command-line builder (exec.run and the runtime's process isolation both use it),
 * plus detection. Every sandbox: all namespaces unshared (so no network), a user namespace with
 * uid/gid 65534 and every capability dropped (a root gateway must not hand root to the command),
 * nested user namespaces disabled, new session (no TIOCSTI), die-with-parent, fresh /proc and /dev,
 * private /tmp, cleared environment, the seccomp filter (seccomp.ts). Hidden paths are never bound;
 * if one lies inside a bind it is covered by a mask that cannot be moved (bwrap-masks.ts).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants as C, lstatSync, mkdtempSync, openSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { maskPlan, maskTargets, type MountBind } from './bwrap-masks.js';
import { isWithin } from './path-canonical.js';
import { seccompProgram } from './seccomp.js';

export interface Bind {
  src: string;
  /** Defaults to src: the sandbox sees the same paths as the host, so outputs stay meaningful. */
  dest?: string;
}

export interface BwrapSpec {
  /** The command inside the sandbox (argv[0] looked up on the sandbox PATH). */
  argv: string[];
  roBinds: Array<string | Bind>;
  rwBinds: Array<string | Bind>;
  /** Never mounted. A bind inside one is an error; one inside a bind is masked. */
  hiddenPaths?: string[];
  /** Symlinks to create (merged-/usr layouts: /bin -> usr/bin). */
  symlinks?: Array<{ target: string; path: string }>;
  network: 'none';
  /** The complete environment of the command (after --clearenv). */
  env: Record<string, string>;
  cwd: string;
  tmpfsTmp: true;
  /** Size cap of the private /tmp (default 64 MiB). */
  tmpSizeMb?: number;
  dieWithParent: true;
  newSession: true;
  /**
   * Start-up handshake: bwrap writes {"child-pid": N} to `infoFd` and waits for a byte on `blockFd`
   * before starting the command (used to move the sandbox into a pids cgroup first).
   */
  syncFds?: { info: number; block: number };
  /** Descriptor (in bwrap) carrying the seccomp program; required unless the spec is only a probe. */
  seccompFd?: number;
  /** Inside uid/gid (default 65534, "nobody"). */
  uid?: number;
  gid?: number;
}

export interface BwrapInfo {
  available: boolean;
  path?: string;
  version?: string;
  reason?: string;
  /** Optional flags this bwrap understands. */
  features?: { disableUserns: boolean; size: boolean; capDrop: boolean; perms: boolean };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_FEATURES = { disableUserns: true, size: true, capDrop: true, perms: true };

function checkPath(p: string, what: string): string {
  if (typeof p !== 'string' || !p || p.includes('\0') || !path.isAbsolute(p)) {
    throw new ClawguardError('bad_request', `sandbox ${what} ${JSON.stringify(p)} must be an absolute path without NUL bytes`);
  }
  return path.resolve(p);
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Build the argument vector for `bwrap` (without the bwrap path itself). Pure apart from resolving
 * symlinks of bind sources and hidden paths, which it must do: the kernel follows them when binding.
 */
export function buildBwrapArgs(spec: BwrapSpec, features: BwrapInfo['features'] = DEFAULT_FEATURES): string[] {
  if (spec.network !== 'none' || spec.tmpfsTmp !== true || spec.dieWithParent !== true || spec.newSession !== true) {
    throw new ClawguardError('bad_request', 'sandbox spec must have network "none", a private /tmp, die-with-parent and a new session');
  }
  if (!Array.isArray(spec.argv) || spec.argv.length === 0 || spec.argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new ClawguardError('bad_request', 'sandbox argv must be a non-empty array of strings without NUL bytes');
  }
  if (!spec.argv[0]) throw new ClawguardError('bad_request', 'sandbox argv[0] is empty');
  const f = features ?? DEFAULT_FEATURES;
  const hidden = [...new Set((spec.hiddenPaths ?? []).map((h) => checkPath(h, 'hidden path')).flatMap((h) => [h, realOrSelf(h)]))];

  const binds: MountBind[] = [];
  for (const [kind, list] of [['ro', spec.roBinds], ['rw', spec.rwBinds]] as const) {
    for (const b of list ?? []) {
      const src = checkPath(typeof b === 'string' ? b : b.src, 'bind');
      const dest = checkPath(typeof b === 'string' ? b : (b.dest ?? b.src), 'bind destination');
      if (dest === '/' || src === '/') throw new ClawguardError('bad_request', 'sandbox refuses to bind the whole filesystem "/"');
      const srcReal = realOrSelf(src);
      for (const h of hidden) {
        if (isWithin(src, h) || isWithin(srcReal, h) || isWithin(dest, h)) {
          throw new ClawguardError('path_blocked', `sandbox bind "${src}" is blocked: it is inside a path that is never mounted`);
        }
      }
      binds.push({ kind, src: srcReal, dest });
    }
  }
  // Masks over hidden paths inside the binds, and pins that keep every directory on the way in place.
  const plan = maskPlan(maskTargets(hidden), binds);
  // Parents before children, so a deeper bind lands on top of a shallower one.
  const depth = (p: string) => (p === '/' ? 0 : p.split('/').length);
  const mounts = [...binds, ...plan.pins].sort((a, b) => depth(a.dest) - depth(b.dest));

  const args: string[] = ['--unshare-all', '--unshare-user'];
  if (f.disableUserns) args.push('--disable-userns');
  args.push('--uid', String(spec.uid ?? 65534), '--gid', String(spec.gid ?? 65534));
  if (f.capDrop) args.push('--cap-drop', 'ALL');
  args.push('--die-with-parent', '--new-session', '--hostname', 'sandbox');
  if (spec.syncFds) {
    const { info, block } = spec.syncFds;
    if (![info, block].every((n) => Number.isInteger(n) && n > 2)) throw new ClawguardError('bad_request', 'sandbox sync descriptors must be integers above 2');
    args.push('--info-fd', String(info), '--block-fd', String(block));
  }
  if (spec.seccompFd !== undefined) {
    if (!(Number.isInteger(spec.seccompFd) && spec.seccompFd > 2)) throw new ClawguardError('bad_request', 'sandbox seccomp descriptor must be an integer above 2');
    args.push('--seccomp', String(spec.seccompFd));
  }
  args.push('--proc', '/proc', '--dev', '/dev');
  if (f.size) args.push('--size', String(Math.max(1, Math.floor(spec.tmpSizeMb ?? 64)) * 1024 * 1024));
  args.push('--tmpfs', '/tmp');
  for (const s of spec.symlinks ?? []) {
    const p = checkPath(s.path, 'symlink');
    if (hidden.some((h) => isWithin(p, h))) continue;
    if (typeof s.target !== 'string' || s.target.includes('\0')) throw new ClawguardError('bad_request', 'sandbox symlink target is invalid');
    args.push('--symlink', s.target, p);
  }
  for (const b of mounts) args.push(b.kind === 'ro' ? '--ro-bind' : '--bind', b.src, b.dest);
  for (const m of plan.masks) {
    if (m.dir) args.push(...(f.perms ? ['--perms', '0000'] : []), '--tmpfs', m.dest, '--remount-ro', m.dest);
    else args.push('--ro-bind', '/dev/null', m.dest);
  }
  args.push('--clearenv');
  for (const [k, v] of Object.entries(spec.env)) {
    if (!ENV_NAME.test(k) || typeof v !== 'string' || v.includes('\0')) throw new ClawguardError('bad_request', `sandbox environment variable ${JSON.stringify(k)} is invalid`);
    args.push('--setenv', k, v);
  }
  args.push('--chdir', checkPath(spec.cwd, 'cwd'));
  args.push('--', ...spec.argv);
  return args;
}

let cached: BwrapInfo | undefined;

function findOnPath(bin: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean).concat(['/usr/bin', '/bin', '/usr/local/bin', '/usr/sbin']);
  for (const d of dirs) {
    const p = path.join(d, bin);
    try {
      accessSync(p, C.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Whether bubblewrap is usable here (cached). `CLAWGUARD_BWRAP` may name the binary, or be "none" to
 * behave as if it were missing. A found binary is also probed: a container without user namespaces
 * has bwrap but cannot use it, and status must say so.
 */
export function detectBubblewrap(): BwrapInfo {
  if (cached) return cached;
  const override = process.env.CLAWGUARD_BWRAP;
  if (override === 'none') return (cached = { available: false, reason: 'bubblewrap disabled by CLAWGUARD_BWRAP=none' });
  const p = override ? override : findOnPath('bwrap');
  if (!p) return (cached = { available: false, reason: 'bubblewrap (bwrap) is not installed or not on PATH; install the "bubblewrap" package' });
  try {
    accessSync(p, C.X_OK);
  } catch {
    return (cached = { available: false, path: p, reason: `bubblewrap at "${p}" is missing or not executable` });
  }
  const v = spawnSync(p, ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (v.status !== 0) return (cached = { available: false, path: p, reason: `"${p} --version" failed: ${(v.stderr || v.error?.message || '').trim()}` });
  const version = v.stdout.trim().replace(/^bubblewrap\s+/, '');
  const help = spawnSync(p, ['--help'], { encoding: 'utf8', timeout: 5000 });
  const h = `${help.stdout ?? ''}${help.stderr ?? ''}`;
  const features = { disableUserns: h.includes('--disable-userns'), size: h.includes('--size'), capDrop: h.includes('--cap-drop'), perms: h.includes('--perms') };
  // Functional probe with the real builder: namespaces, binds, the seccomp filter and all.
  const prog = seccompProgram();
  const dir = prog ? mkdtempSync(path.join(tmpdir(), 'cg-probe-')) : undefined;
  let fd: number | undefined;
  let probe;
  try {
    if (dir && prog) {
      writeFileSync(path.join(dir, 'seccomp.bpf'), prog);
      fd = openSync(path.join(dir, 'seccomp.bpf'), 'r');
    }
    const spec: BwrapSpec = { ...systemLayout([]), argv: [trueBinary()], rwBinds: [], network: 'none', env: {}, cwd: '/', tmpfsTmp: true, dieWithParent: true, newSession: true, ...(fd !== undefined ? { seccompFd: 3 } : {}) };
    probe = spawnSync(p, buildBwrapArgs(spec, features), { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe', ...(fd !== undefined ? [fd] : [])] });
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  if (probe.status !== 0) {
    return (cached = { available: false, path: p, version, features, reason: `bubblewrap ${version} cannot create a sandbox here: ${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()}` });
  }
  return (cached = { available: true, path: p, version, features });
}

/** Forget the cached detection (tests, or after installing bubblewrap). */
export function resetBubblewrapDetection(): void {
  cached = undefined;
}

function trueBinary(): string {
  for (const c of ['/usr/bin/true', '/bin/true']) {
    try {
      accessSync(c, C.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return '/bin/true';
}

/** Minimal /etc entries a dynamic executable may need; nothing that names users or secrets. */
const ETC_ALLOW = ['/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/alternatives', '/etc/localtime'];

/**
 * Read-only system directories for the sandbox: /usr, the /bin,/lib... tops (as symlinks on merged-/usr
 * systems), and a few /etc entries. Anything inside a hidden path is left out.
 */
export function systemLayout(hiddenPaths: string[]): { roBinds: string[]; symlinks: Array<{ target: string; path: string }> } {
  const hidden = hiddenPaths.flatMap((h) => [path.resolve(h), realOrSelf(path.resolve(h))]);
  const isHidden = (p: string) => hidden.some((h) => isWithin(p, h) || isWithin(realOrSelf(p), h));
  const roBinds: string[] = [];
  const symlinks: Array<{ target: string; path: string }> = [];
  for (const top of ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', ...ETC_ALLOW]) {
    if (isHidden(top)) continue;
    let st;
    try {
      st = lstatSync(top);
    } catch {
      continue;
    }
    if (st.isSymbolicLink() && !top.startsWith('/etc/')) symlinks.push({ target: readlinkSync(top), path: top });
    else roBinds.push(top);
  }
  return { roBinds, symlinks };
}
