/**
 * File permissions: state directories 0700; config and key files not readable or writable by
 * group/other. Findings are fixable; fixer.ts applies exactly the chmod named here.
 */
import { finding } from '../catalog.js';
import type { Finding } from '../types.js';

export type PermTarget = 'state-dir' | 'config' | 'key';

export interface PermFix {
  /** Absolute path. */
  path: string;
  /** Relative path for reports. */
  file: string;
  from: number;
  to: number;
  checkId: string;
}

const octal = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`;

/** Findings for one path with permission bits `mode`; `fixes` gets the chmod that repairs them. */
export function checkPermissions(kind: PermTarget, abs: string, file: string, mode: number, fixes: PermFix[]): Finding[] {
  if (process.platform === 'win32') return [];
  const m = mode & 0o777;
  const groupW = (m & 0o020) !== 0;
  const worldW = (m & 0o002) !== 0;
  const groupR = (m & 0o040) !== 0;
  const worldR = (m & 0o004) !== 0;
  const out: Finding[] = [];
  let id: string | undefined;
  let detail = '';
  if (kind === 'state-dir') {
    if (worldW) id = 'fs.state_dir.perms_world_writable';
    else if (groupW) id = 'fs.state_dir.perms_group_writable';
    else if (groupR || worldR || (m & 0o011) !== 0) id = 'fs.state_dir.perms_readable';
    detail = `${file} is mode ${octal(m)}; state directories must be 0700.`;
    if (id) fixes.push({ path: abs, file, from: m, to: 0o700, checkId: id });
  } else {
    const what = kind === 'config' ? 'config file' : 'key file';
    if (kind === 'config') {
      if (worldW || groupW) id = 'fs.config.perms_writable';
      else if (worldR) id = 'fs.config.perms_world_readable';
      else if (groupR) id = 'fs.config.perms_group_readable';
    } else if (worldW || groupW) id = 'fs.key_file.perms_writable';
    else if (worldR || groupR) id = 'fs.key_file.perms_readable';
    detail = `${what} ${file} is mode ${octal(m)}; it must not be accessible to group or other users (0600).`;
    if (id) fixes.push({ path: abs, file, from: m, to: m & 0o700, checkId: id });
  }
  if (id) out.push(finding(id, { file, line: 0, detail, fixable: true }));
  return out;
}
