/**
 * Line numbers for config keys. JSON.parse and JSON5 give no positions, so the key path is
 * followed through the text: each key is searched after the previous one. Good enough for
 * reports (the line of the deepest key found), and never wrong about the file.
 */
import { lineAt } from './text.js';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function locate(text: string, path: readonly (string | number)[]): number {
  let pos = 0;
  let line = 1;
  for (const key of path) {
    if (typeof key === 'number') continue;
    const re = new RegExp(`(["']?)${escapeRe(key)}\\1\\s*:`, 'g');
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) break;
    pos = m.index + m[0].length;
    line = lineAt(text, m.index + m[1]!.length);
  }
  return line;
}
