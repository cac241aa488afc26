/**
 * JSON request bodies, bounded at the edge. A body is accepted only if everything behind the
 * door can handle every value in it: nesting deeper than MAX_JSON_DEPTH (JSON.stringify, the
 * audit's canonical form and the isolate's copy all recurse, and overflow the stack on 10,000
 * levels), a number JSON.parse turned into Infinity (1e400: it would be stored as null), a string
 * or key with a lone surrogate (SQLite stores UTF-8 and would hand back U+FFFD), and a
 * `__proto__` key or a `constructor.prototype` pair (prototype pollution in any later merge) are
 * each a 400 naming where the value is. The walk is iterative, so the check itself cannot overflow.
 */
import { ClawguardError } from '../errors/index.js';

export const MAX_JSON_DEPTH = 64;

interface Frame {
  v: object;
  depth: number;
  parent: Frame | undefined;
  key: string | number | undefined;
}

function pathOf(f: Frame | undefined, last: string | number | undefined, where: string): string {
  const parts: Array<string | number> = last === undefined ? [] : [last];
  for (let x = f; x && x.key !== undefined; x = x.parent) parts.push(x.key);
  let out = where;
  for (const p of parts.reverse()) out += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p.slice(0, 40))}]`;
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: () => boolean }).isWellFormed === 'function' ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed() : (s) => !LONE_SURROGATE.test(s);

/** Throws bad_request naming the first value in `value` that later code cannot handle. */
export function assertPortableJson(value: unknown, where = 'body'): void {
  const bad = (f: Frame | undefined, key: string | number | undefined, why: string): never => {
    throw new ClawguardError('bad_request', `${pathOf(f, key, where)}: ${why}`);
  };
  const leaf = (v: unknown, f: Frame | undefined, key: string | number | undefined): boolean => {
    if (typeof v === 'string') {
      if (!wellFormed(v)) bad(f, key, 'the string contains a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), which cannot be stored');
      return true;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) bad(f, key, 'the number is too large to represent (JSON numbers must stay within about ±1.8e308)');
      return true;
    }
    return v === null || typeof v === 'boolean';
  };
  if (leaf(value, undefined, undefined) || value === undefined) return;
  const stack: Frame[] = [{ v: value as object, depth: 1, parent: undefined, key: undefined }];
  while (stack.length) {
    const f = stack.pop()!;
    if (f.depth > MAX_JSON_DEPTH) bad(f.parent, f.key, `nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(f.v)) {
      const a = f.v as unknown[];
      for (let i = 0; i < a.length; i++) if (!leaf(a[i], f, i)) stack.push({ v: a[i] as object, depth: f.depth + 1, parent: f, key: i });
      continue;
    }
    const o = f.v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k === '__proto__') bad(f, k, 'the key "__proto__" is not accepted');
      if (k === 'constructor' && o[k] !== null && typeof o[k] === 'object' && Object.hasOwn(o[k] as object, 'prototype')) bad(f, k, 'a "constructor" object with a "prototype" key is not accepted');
      if (!wellFormed(k)) bad(f, undefined, 'a key contains a lone UTF-16 surrogate, which cannot be stored');
      const v = o[k];
      if (!leaf(v, f, k)) stack.push({ v: v as object, depth: f.depth + 1, parent: f, key: k });
    }
  }
}

/** JSON.parse, then assertPortableJson: invalid_json for text that is not JSON, bad_request for a value that cannot be handled. */
export function parseJsonBody(text: string, where = 'body'): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ClawguardError('invalid_json', `the body is not valid JSON: ${(e as Error).message}`);
  }
  assertPortableJson(v, where);
  return v;
}
