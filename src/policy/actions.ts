/**
 * Actions are tool names (`fs.read`, `http.fetch`, …). Each belongs to group actions named by its
 * dotted prefixes (`fs.*`) and to `*`, so `action in Action::"fs.*"` means what `tools.allow: ["fs.*"]`
 * means. `secret.use` belongs to no group: a secret is granted only by name (secrets.<name>.agents
 * or a policy naming the action), never by a wildcard.
 */
export const GROUP_ALL = '*';

/** Actions outside every group. */
export const ungroupedActions: ReadonlySet<string> = new Set(['secret.use']);

/** Tools known to clawguard, whether or not this build registers them yet (policies may name them). */
export const ACTION_CATALOG: readonly string[] = [
  'fs.read', 'fs.write', 'fs.list',
  'http.fetch',
  'exec.run',
  'model.chat',
  'memory.read', 'memory.write', 'memory.list', 'memory.delete',
  'agent.message',
  'system.time',
  'secret.use',
];

/** The group actions containing `name` (an action or a group), nearest first; `*` contains all groups. */
export function actionGroups(name: string): string[] {
  if (name === GROUP_ALL) return [];
  const base = name.endsWith('.*') ? name.slice(0, -2) : name;
  const out: string[] = [];
  for (let i = base.lastIndexOf('.'); i > 0; i = base.lastIndexOf('.', i - 1)) out.push(`${base.slice(0, i)}.*`);
  out.push(GROUP_ALL);
  return out;
}

const memo = new Map<string, readonly string[]>();

/** Ancestors of a requested action (memoized): its groups, or none for ungrouped actions. */
export function actionAncestors(action: string): readonly string[] {
  let a = memo.get(action);
  if (!a) {
    a = ungroupedActions.has(action) ? [] : actionGroups(action);
    if (memo.size < 10_000) memo.set(action, a);
  }
  return a;
}

/** Whether a config tool pattern is a group (`*`, `fs.*`) rather than one tool. */
export function isGroupPattern(pattern: string): boolean {
  return pattern === GROUP_ALL || pattern.endsWith('.*');
}
