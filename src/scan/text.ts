/** Small text helpers: line numbers from offsets, Shannon entropy, masking. */

/** 1-based line number of `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  let i = text.indexOf('\n');
  while (i !== -1 && i < offset) {
    line++;
    i = text.indexOf('\n', i + 1);
  }
  return line;
}

/** Maps many offsets to lines without rescanning from the start each time (offsets in any order). */
export class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  line(offset: number): number {
    if (!this.starts) {
      const s = [0];
      for (let i = this.text.indexOf('\n'); i !== -1; i = this.text.indexOf('\n', i + 1)) s.push(i + 1);
      this.starts = s;
    }
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  /** The text of the line containing `offset` (without the newline). */
  lineText(offset: number): string {
    const start = this.text.lastIndexOf('\n', offset - 1) + 1;
    let end = this.text.indexOf('\n', offset);
    if (end === -1) end = this.text.length;
    return this.text.slice(start, end);
  }
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * A secret shown as its first few characters and stars. The visible prefix never exceeds a
 * quarter of the value (and at most `maxVisible`), so even short secrets stay unrecoverable.
 */
export function mask(secret: string, knownPrefix = '', maxVisible = 6): string {
  const budget = Math.min(maxVisible, Math.floor(secret.length / 4));
  const visible = knownPrefix && secret.startsWith(knownPrefix) ? Math.min(knownPrefix.length, Math.max(budget, Math.floor(secret.length / 3))) : budget;
  const shown = secret.slice(0, visible);
  const hidden = secret.length - visible;
  return `${shown}${'*'.repeat(Math.min(hidden, 8))}${hidden > 8 ? `…(${secret.length} chars)` : ''}`;
}
