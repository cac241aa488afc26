/**
 * Paths in the config: sandbox roots and blocked paths are literal paths (each is opened, masked and
 * followed by identity, which needs a real path, so a glob there is refused), while `paths` in tool
 * rules are globs on the canonical absolute path a tool opens. A rule pattern that is relative means
 * the profile's workspace (as a relative fs.* path does), `~/` means the home directory, and one that
 * starts with `**` matches anywhere.
 */
import { homedir } from 'node:os';
import { posix } from 'node:path';

/** Glob syntax minimatch would act on: `*`, `?`, a bracket class, a brace list, an extglob. */
export function hasGlobSyntax(p: string): boolean {
  return /[*?]|\[[^\]]*\]|\{[^}]*\}|[!@+]\(/.test(p);
}

/** Why a sandbox root or blocked path is unusable, or undefined. */
export function literalPathProblem(p: string): string | undefined {
  if (p.includes('\0')) return 'contains a NUL byte';
  if (hasGlobSyntax(p)) return `is a glob; sandbox paths are literal (each is masked in the sandbox and followed by identity): list each path, or use a tools.deny rule with "paths" globs`;
  if (!(p.startsWith('/') || p === '~' || p.startsWith('~/'))) return 'must be an absolute path or start with ~/';
  return undefined;
}

/** A rule's path glob as an absolute pattern, or a problem when it is relative and there is no workspace. */
export function absolutePattern(pattern: string, workspace: string | undefined, home: string = homedir()): { pattern: string } | { problem: string } {
  if (pattern.startsWith('/')) return { pattern };
  if (pattern.startsWith('**')) return { pattern };
  if (pattern === '~' || pattern.startsWith('~/')) return { pattern: posix.join(home, pattern.slice(1)) };
  if (!workspace) return { problem: `is relative and the profile has no workspace to resolve it against; write an absolute pattern (or one starting with **)` };
  return { pattern: posix.join(workspace, pattern) };
}
