/**
 * What exec.run really runs. A command is resolved once, in exec.run's prepare step, against the fixed
 * sandbox PATH (the agent cannot set PATH), and the policy, the audit and the sandbox all see the
 * resolved absolute path. A bare name in a `commands` rule stands for that name in the fixed PATH
 * directories only.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { SANDBOX_PATH } from './launch.js';

export const SANDBOX_PATH_DIRS: readonly string[] = SANDBOX_PATH.split(':');

function executableFile(p: string): boolean {
  try {
    const st = statSync(p);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The first `<dir>/<name>` on the fixed sandbox PATH that is an executable file, if any. */
export function lookupCommand(name: string): string | undefined {
  for (const d of SANDBOX_PATH_DIRS) {
    const p = `${d}/${name}`;
    if (executableFile(p)) return p;
  }
  return undefined;
}

/**
 * argv[0] as an absolute path: a bare name looked up on the fixed PATH, a path with a slash made
 * absolute against `cwd` and normalised (symlinks are left alone: `/usr/bin/python3` stays itself).
 */
export function resolveCommand(argv0: string, cwd: string): string {
  if (typeof argv0 !== 'string' || argv0 === '' || argv0.includes('\0')) throw new ClawguardError('bad_request', 'exec.run: argv[0] must be a non-empty string without NUL bytes');
  if (!argv0.includes('/')) {
    const found = lookupCommand(argv0);
    if (!found) throw new ClawguardError('not_found', `exec.run: command ${JSON.stringify(argv0)} was not found on the sandbox PATH (${SANDBOX_PATH}); agents cannot set PATH`);
    return found;
  }
  return path.resolve(cwd, argv0);
}

/**
 * argv[0] as a decision sees it: already absolute after prepare; a bare name from a request that did
 * not come through prepare (`policy explain`) is looked up as prepare would. Never throws.
 */
export function decidedCommand(argv0: string): string {
  return argv0.includes('/') || argv0 === '' ? argv0 : (lookupCommand(argv0) ?? argv0);
}

/** The resolved paths a `commands` entry stands for: itself when absolute, the name in each PATH directory when bare. */
export function commandForms(entry: string): string[] {
  if (entry.startsWith('/')) return [path.posix.normalize(entry)];
  if (entry.includes('/')) return [];
  return SANDBOX_PATH_DIRS.map((d) => `${d}/${entry}`);
}

/** Whether a resolved command matches a `commands` entry. */
export function commandMatches(resolved: string, entry: string): boolean {
  return commandForms(entry).includes(resolved);
}
