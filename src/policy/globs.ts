/**
 * Path globs with exactly the semantics of node's `path.matchesGlob` (minimatch with the options
 * node passes on POSIX), compiled once per pattern instead of on every call.
 */
import { Minimatch, type MinimatchOptions } from 'minimatch';

const OPTIONS: MinimatchOptions = { windowsPathsNoEscape: true, nonegate: true, nocomment: true, optimizationLevel: 2, platform: 'linux', nocaseMagicOnly: true };
const compiled = new Map<string, Minimatch>();

export function matchGlob(path: string, pattern: string): boolean {
  let m = compiled.get(pattern);
  if (!m) {
    m = new Minimatch(pattern, OPTIONS);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, m);
  }
  return m.match(path);
}
