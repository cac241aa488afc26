/**
 * Directory walk: every regular file with its size and mode, plus the state directories found
 * on the way. Skips dependency and VCS directories, never follows symlinks (a link can point
 * outside the target, and --fix must not chmod through it).
 */
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { isStateDirName } from './classify.js';

export interface FileEntry {
  abs: string;
  /** Relative to the scan root, with forward slashes. */
  rel: string;
  name: string;
  /** Filled in by the reader (fstat), not by the walk. */
  size?: number;
  mode?: number;
}

export interface DirEntry {
  abs: string;
  rel: string;
  mode: number;
}

export interface WalkResult {
  root: string;
  files: FileEntry[];
  stateDirs: DirEntry[];
  skipped: number;
  errors: Array<{ file: string; message: string }>;
}

export const DEFAULT_SKIP_DIRS = ['node_modules', '.git', '.hg', '.svn'];

const toRel = (root: string, abs: string) => (relative(root, abs) || basename(abs)).split(sep).join('/');

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

export async function walk(target: string, isDir: boolean, skipDirs: readonly string[], onProgress?: (filesFound: number) => void): Promise<WalkResult> {
  const root = isDir ? target.replace(/[\\/]+$/, '') || target : join(target, '..');
  const result: WalkResult = { root, files: [], stateDirs: [], skipped: 0, errors: [] };
  const skip = new Set(skipDirs);
  if (!isDir) {
    result.files.push({ abs: target, rel: toRel(root, target), name: basename(target) });
    return result;
  }
  const rootSt = await lstat(target);
  if (isStateDirName(basename(target))) result.stateDirs.push({ abs: target, rel: '.', mode: rootSt.mode });

  // Only directories are read here; file sizes and modes come from fstat when a file is read,
  // which saves one stat call per file. Paths are built by concatenation (no path.relative per file).
  let dirs: Array<{ abs: string; rel: string }> = [{ abs: target, rel: '' }];
  const s2 = sep;
  while (dirs.length > 0) {
    const nextDirs: Array<{ abs: string; rel: string }> = [];
    await pool(dirs, 16, async (dir) => {
      let ents;
      try {
        ents = await readdir(dir.abs, { withFileTypes: true });
      } catch (e) {
        result.errors.push({ file: dir.rel || '.', message: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
        return;
      }
      const stateDirs: Array<{ abs: string; rel: string }> = [];
      for (const d of ents) {
        const abs = dir.abs.endsWith(s2) ? dir.abs + d.name : dir.abs + s2 + d.name;
        const rel = dir.rel ? `${dir.rel}/${d.name}` : d.name;
        if (d.isDirectory()) {
          if (skip.has(d.name)) {
            result.skipped++;
            continue;
          }
          nextDirs.push({ abs, rel });
          if (isStateDirName(d.name)) stateDirs.push({ abs, rel });
        } else if (d.isFile()) {
          result.files.push({ abs, rel, name: d.name });
        } else {
          result.skipped++; // symlinks, sockets, devices
        }
      }
      for (const sd of stateDirs) {
        try {
          result.stateDirs.push({ ...sd, mode: (await lstat(sd.abs)).mode });
        } catch (e) {
          result.errors.push({ file: sd.rel, message: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
        }
      }
    });
    dirs = nextDirs;
    onProgress?.(result.files.length);
  }
  result.files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return result;
}
