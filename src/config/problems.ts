/** Turns zod issues into one readable line per problem, naming the exact key path. */
import type { ZodIssue } from 'zod';

export interface ConfigProblem {
  path: string;
  message: string;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function lookup(root: unknown, path: (string | number)[]): unknown {
  let cur: unknown = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** Damerau-free Levenshtein distance, small inputs only. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length]![b.length]!;
}

export function didYouMean(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

export function formatPath(prefix: string, path: (string | number)[]): string {
  const parts = prefix ? [prefix] : [];
  for (const p of path) parts.push(typeof p === 'number' ? `[${p}]` : p);
  return parts.join('.').replace(/\.\[/g, '[') || '(root)';
}

export function problemsFromZod(issues: ZodIssue[], input: unknown, prefix: string, knownKeys: (path: (string | number)[]) => string[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const suggestion = didYouMean(key, knownKeys(issue.path));
        out.push({
          path: formatPath(prefix, [...issue.path, key]),
          message: `unknown key${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
        });
      }
      continue;
    }
    const found = lookup(input, issue.path);
    let message: string;
    switch (issue.code) {
      case 'invalid_type':
        message = `expected ${issue.expected}, got ${issue.received === 'undefined' ? 'nothing' : describe(found)}`;
        break;
      case 'invalid_enum_value':
        message = `expected one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}, got ${describe(found)}`;
        break;
      case 'invalid_union':
        {
          const expected = [...new Set(issue.unionErrors.flatMap((e) => e.issues.filter((i) => i.code === 'invalid_type' && i.path.length === issue.path.length).map((i) => (i as { expected: string }).expected)))];
          message = `expected ${expected.length ? expected.join(' or ') : 'a valid value'}, got ${describe(found)}`;
        }
        break;
      case 'custom':
        message = issue.message;
        break;
      default:
        message = `${issue.message}, got ${describe(found)}`;
    }
    out.push({ path: formatPath(prefix, issue.path), message });
  }
  // zod may report the same path twice through unions; keep the first.
  const seen = new Set<string>();
  return out.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
