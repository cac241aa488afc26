/**
 * source "file": a value inside a JSON file, addressed by a JSON pointer (RFC 6901), or the whole
 * file's trimmed text without one. Files readable or writable by group or others are refused.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import type { FetchedValue, RotationMode, SecretProvider } from '../types.js';

/** RFC 6901: "/a/b~1c/~0d" → ["a", "b/c", "~d"]. */
export function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new ClawguardError('secret_unavailable', `JSON pointer ${JSON.stringify(p)} must start with "/"`);
  return p
    .slice(1)
    .split('/')
    .map((seg) => {
      if (/~[^01]|~$/.test(seg)) throw new ClawguardError('secret_unavailable', `JSON pointer ${JSON.stringify(p)}: "~" must be followed by 0 or 1`);
      return seg.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

export function resolvePointer(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const seg of parsePointer(pointer)) {
    if (Array.isArray(cur) && /^(0|[1-9]\d*)$/.test(seg)) cur = cur[Number(seg)];
    else if (cur && typeof cur === 'object' && !Array.isArray(cur) && Object.prototype.hasOwnProperty.call(cur, seg)) cur = (cur as Record<string, unknown>)[seg];
    else return undefined;
  }
  return cur;
}

export function expandPath(p: string, base = process.cwd()): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

export class FileProvider implements SecretProvider {
  rotationMode(): RotationMode {
    return 'reread';
  }

  async fetch(s: SecretConfig): Promise<FetchedValue> {
    if (typeof s.settings.file !== 'string' || !s.settings.file) throw new ClawguardError('secret_unavailable', `secrets.${s.name}.file is not set`);
    const path = expandPath(s.settings.file);
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      throw new ClawguardError('secret_unavailable', `secrets.${s.name}: cannot read ${path} (${(e as NodeJS.ErrnoException).code})`);
    }
    if (!st.isFile()) throw new ClawguardError('secret_unavailable', `secrets.${s.name}: ${path} is not a regular file`);
    if ((st.mode & 0o066) !== 0) {
      throw new ClawguardError('secret_unavailable', `secrets.${s.name}: refusing ${path}: it is ${st.mode & 0o044 ? 'readable' : 'writable'} by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const text = await readFile(path, 'utf8');
    const pointer = s.settings.pointer;
    let value: unknown;
    if (typeof pointer === 'string') {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (e) {
        throw new ClawguardError('secret_unavailable', `secrets.${s.name}: ${path} is not valid JSON (${(e as Error).message})`);
      }
      value = resolvePointer(doc, pointer);
      if (value === undefined) throw new ClawguardError('secret_unavailable', `secrets.${s.name}: nothing at JSON pointer ${pointer} in ${path}`);
      if (typeof value !== 'string') throw new ClawguardError('secret_unavailable', `secrets.${s.name}: the value at ${pointer} in ${path} is not a string`);
    } else value = text.trim();
    if (value === '') throw new ClawguardError('secret_unavailable', `secrets.${s.name}: the value in ${path} is empty`);
    return { value: value as string, createdAt: st.mtimeMs };
  }
}
