/**
 * The matchers of config rules, compiled once per pattern instead of on every call.
 *
 * Path globs: minimatch with the options node's `path.matchesGlob` passes on POSIX, plus two rules a
 * security policy needs: `*` and `**` match dotfiles (`/ws/secrets/**` covers `/ws/secrets/.env`), and
 * `dir/**` matches `dir` itself (so it covers listing the directory, not only its contents).
 *
 * Argument patterns (exec.run `argv`): one element per argument, `*` any run of characters and `?`
 * one character within it (`\` escapes either), and `**` alone for any number of arguments.
 */
import { Minimatch, type MinimatchOptions } from 'minimatch';

const OPTIONS: MinimatchOptions = { windowsPathsNoEscape: true, nonegate: true, nocomment: true, optimizationLevel: 2, platform: 'linux', nocaseMagicOnly: true, dot: true };
const compiled = new Map<string, Minimatch[]>();

export function matchGlob(path: string, pattern: string): boolean {
  let m = compiled.get(pattern);
  if (!m) {
    m = [new Minimatch(pattern, OPTIONS)];
    if (pattern.endsWith('/**') && pattern.length > 3) m.push(new Minimatch(pattern.slice(0, -3), OPTIONS));
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, m);
  }
  return m.some((x) => x.match(path));
}

/** One argument element, parsed: literal characters and wildcards (`*` any run, `?` one character). */
type Element = Array<{ lit: string } | '*' | '?'>;
type ArgMatcher = Element | 'any';
const argPatterns = new Map<string, ArgMatcher[]>();

function parseElement(element: string): Element {
  const out: Element = [];
  const chars = [...element];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) out.push({ lit: chars[++i]! });
    else if (c === '*' || c === '?') out.push(c);
    else out.push({ lit: c });
  }
  return out;
}

/** Wildcard match without backtracking blow-up: on a mismatch only the last `*` is retried (O(n·m)). */
function matchElement(s: string, e: Element): boolean {
  const t = [...s];
  let ti = 0;
  let ei = 0;
  let starE = -1;
  let starT = 0;
  while (ti < t.length) {
    const x = e[ei];
    if (x !== undefined && x !== '*' && (x === '?' || x.lit === t[ti])) {
      ti++;
      ei++;
    } else if (x === '*') {
      starE = ei++;
      starT = ti;
    } else if (starE >= 0) {
      ei = starE + 1;
      ti = ++starT;
    } else return false;
  }
  while (e[ei] === '*') ei++;
  return ei === e.length;
}

/** The stable key of an argument pattern (what compiled policies and the context name it by). */
export function argvPatternKey(pattern: readonly string[]): string {
  return JSON.stringify(pattern);
}

function compileArgv(pattern: readonly string[]): ArgMatcher[] {
  const key = argvPatternKey(pattern);
  let m = argPatterns.get(key);
  if (!m) {
    m = pattern.map((e) => (e === '**' ? 'any' : parseElement(e)));
    if (argPatterns.size > 10_000) argPatterns.clear();
    argPatterns.set(key, m);
  }
  return m;
}

/** Whether the arguments (argv without argv[0]) match the pattern. */
export function matchArgv(args: readonly string[], pattern: readonly string[]): boolean {
  const m = compileArgv(pattern);
  // Backtracking over `**` with memo on (pattern index, argument index): linear in their product.
  const seen = new Set<number>();
  const go = (pi: number, ai: number): boolean => {
    if (pi === m.length) return ai === args.length;
    const k = pi * (args.length + 1) + ai;
    if (seen.has(k)) return false;
    seen.add(k);
    const e = m[pi]!;
    if (e === 'any') return go(pi + 1, ai) || (ai < args.length && go(pi, ai + 1));
    return ai < args.length && matchElement(args[ai]!, e) && go(pi + 1, ai + 1);
  };
  return go(0, 0);
}
