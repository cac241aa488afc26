/**
 * Lexical and on-disk canonicalisation of paths. Pure helpers; the policy lives in path-guard.ts.
 *
 * Rules (issue 6): reject NUL bytes; a plain path is never URL-decoded (a file named "%2e%2e" is just
 * a strange name); only a `file://` URL is decoded, exactly once, by the WHATWG parser; `~` expands to
 * the home directory; relative paths join the workspace; `.`, `..` and duplicate slashes collapse.
 */
import { realpath } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClawguardError } from '../errors/index.js';

/** Quote a caller-supplied path for an error message without letting control bytes through. */
export function showPath(p: string): string {
  const s = JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}…` : p);
  return s;
}

/** `~` or `~/x` → home-relative; `~user` is not expanded (it names another account). */
export function expandTilde(p: string, home: string = homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/**
 * Turn caller input into an absolute, lexically normalised path. Throws `bad_request` for input that
 * cannot name a path at all (non-string, empty, NUL, malformed file URL, relative without workspace).
 */
export function lexicalCanonical(input: unknown, opts: { workspace?: string; home?: string }): string {
  if (typeof input !== 'string' || input.length === 0) {
    throw new ClawguardError('bad_request', 'path must be a non-empty string');
  }
  if (input.includes('\0')) {
    throw new ClawguardError('bad_request', `path ${showPath(input)} contains a NUL byte`);
  }
  let p = input;
  if (/^file:/i.test(p)) p = fromFileUrl(p);
  p = expandTilde(p, opts.home);
  if (!path.isAbsolute(p)) {
    if (!opts.workspace) throw new ClawguardError('bad_request', `path ${showPath(input)} is relative and no workspace is set`);
    p = path.join(opts.workspace, p);
  }
  // path.resolve collapses ".", "..", duplicate and trailing slashes; ".." at "/" stays at "/".
  p = path.resolve(p);
  if (p.includes('\0') || !path.isAbsolute(p)) {
    throw new ClawguardError('bad_request', `path ${showPath(input)} does not canonicalise to an absolute path`);
  }
  return p;
}

function fromFileUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClawguardError('bad_request', `file URL ${showPath(raw)} is malformed`);
  }
  if (url.protocol !== 'file:') throw new ClawguardError('bad_request', `URL ${showPath(raw)} is not a file: URL`);
  if (url.hostname !== '' && url.hostname !== 'localhost') {
    throw new ClawguardError('bad_request', `file URL ${showPath(raw)} names a remote host "${url.hostname}"`);
  }
  let p: string;
  try {
    p = fileURLToPath(url); // decodes percent-escapes once; refuses an encoded "/"
  } catch (e) {
    throw new ClawguardError('bad_request', `file URL ${showPath(raw)} cannot be a path: ${(e as Error).message}`);
  }
  if (p.includes('\0')) throw new ClawguardError('bad_request', `file URL ${showPath(raw)} decodes to a NUL byte`);
  return p;
}

/**
 * Resolve symlinks in the longest existing prefix of an absolute, normalised path and append the
 * components that do not exist yet. The tail cannot contain ".." (already collapsed), so the result
 * is where a create would land if nothing changes in between (the guard re-checks after opening).
 */
export async function realpathLongestPrefix(abs: string): Promise<{ real: string; exists: boolean }> {
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      const r = await realpath(head);
      return { real: tail.length ? path.join(r, ...tail.reverse()) : r, exists: tail.length === 0 };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a file sits where a directory is needed; ELOOP: symlink loop. Neither can be created.
      if (code !== 'ENOENT') throw e;
      const parent = path.dirname(head);
      if (parent === head) return { real: abs, exists: false };
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

/** Canonical forms of a configured root: lexical, plus its real path when it exists (both are matched). */
export function rootForms(p: string, home?: string): string[] {
  const lexical = path.resolve(expandTilde(p, home));
  const forms = new Set([lexical]);
  try {
    forms.add(realpathSync(lexical));
  } catch {
    /* a root that does not exist yet is matched lexically only */
  }
  return [...forms];
}

/** True when `p` equals `prefix` or lies under it (component-wise, never "/foo" vs "/foobar"). */
export function isWithin(p: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return p === prefix || p.startsWith(prefix + '/');
}

/**
 * Synchronous: where an absolute path really is, or would be if created: the real path of its longest
 * existing prefix plus the rest. For paths the operator configured, never for agent input.
 */
export function realOrPlanned(abs: string): string {
  const tail: string[] = [];
  for (let head = path.resolve(abs); ; ) {
    try {
      const r = realpathSync(head);
      return tail.length ? path.join(r, ...tail.reverse()) : r;
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return path.resolve(abs);
      tail.push(path.basename(head));
      head = parent;
    }
  }
}
