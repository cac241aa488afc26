/** Writing Cedar source safely: string literals, `like` patterns, entity references. */

function escapeChars(s: string, extra: (c: string) => string | undefined): string {
  let out = '';
  for (const ch of s) {
    const x = extra(ch);
    if (x !== undefined) out += x;
    else if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch.charCodeAt(0) < 0x20 || ch === '\u007f') out += `\\u{${ch.codePointAt(0)!.toString(16)}}`;
    else out += ch;
  }
  return out;
}

/** A Cedar string literal, quoted. */
export function lit(s: string): string {
  return `"${escapeChars(s, () => undefined)}"`;
}

/** A Cedar `like` pattern where only the given positions are wildcards: each part is literal, joined by `*`. */
export function likePattern(parts: string[]): string {
  return `"${parts.map((p) => escapeChars(p, (c) => (c === '*' ? '\\*' : undefined))).join('*')}"`;
}

/** `Type::"id"` */
export function entity(type: string, id: string): string {
  return `${type}::${lit(id)}`;
}

/** A Cedar set literal of strings. */
export function strSet(values: string[]): string {
  return `[${values.map(lit).join(', ')}]`;
}
