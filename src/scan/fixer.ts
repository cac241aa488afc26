/** --fix: apply the permission fixes found by the scan (chmod only, nothing else is touched). */
import { chmod, lstat } from 'node:fs/promises';
import type { PermFix } from './checks/permissions.js';
import type { FixApplied } from './types.js';

const octal = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`;

export async function applyFixes(fixes: PermFix[]): Promise<{ applied: FixApplied[]; failed: Array<{ file: string; message: string }> }> {
  const applied: FixApplied[] = [];
  const failed: Array<{ file: string; message: string }> = [];
  const seen = new Set<string>();
  for (const f of fixes) {
    if (seen.has(f.path)) continue;
    seen.add(f.path);
    try {
      // Never chmod through a symlink: the target may be outside the scanned tree.
      const st = await lstat(f.path);
      if (st.isSymbolicLink()) throw new Error('is a symlink; not changed');
      if ((st.mode & 0o777) !== f.from) throw new Error(`mode changed during the scan (now ${octal(st.mode)}); not changed`);
      await chmod(f.path, f.to);
      applied.push({ file: f.file, from: octal(f.from), to: octal(f.to), checkId: f.checkId });
    } catch (e) {
      failed.push({ file: f.file, message: `chmod ${octal(f.to)} failed: ${(e as Error).message}` });
    }
  }
  return { applied, failed };
}
