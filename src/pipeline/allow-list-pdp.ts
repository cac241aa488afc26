/**
 * The minimal decision point of the spine: a tool is allowed only when the principal's profile
 * lists it in `tools.allow` (and not in `tools.deny`); everything else is denied by default.
 * The Cedar PDP replaces this; the semantics of the config tier stay the same.
 */
import type { ProfileConfig, ToolRule } from '../config/index.js';
import { matchArgv, matchGlob } from '../policy/globs.js';
import { commandMatches, decidedCommand, hostPatternMatches, parseHostPatterns, targetOf, type HostPattern, type Target } from '../sandbox/index.js';
import type { ActionRequest, Decision, DecisionPoint } from './types.js';

function argString(args: unknown, key: string): string | undefined {
  if (args && typeof args === 'object' && key in args) {
    const v = (args as Record<string, unknown>)[key];
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

function targetOfUrl(url: string | undefined): Target | undefined {
  if (!url) return undefined;
  try {
    return targetOf(new URL(url));
  } catch {
    return undefined;
  }
}

/** A rule's `hosts` as host-pattern.ts reads a destination list (the Cedar tier compiles the same reading). */
const parsedHosts = new WeakMap<readonly string[], HostPattern[]>();
function hostPatternsOf(entries: readonly string[]): HostPattern[] {
  let list = parsedHosts.get(entries);
  if (!list) parsedHosts.set(entries, (list = parseHostPatterns(entries, { defaults: 'any', star: true })));
  return list;
}

/** Whether a rule covers this call, including its argument constraints. */
export function ruleMatches(rule: ToolRule, tool: string, args: unknown): boolean {
  const toolOk = rule.tool === tool || rule.tool === '*' || (rule.tool.endsWith('.*') && tool.startsWith(rule.tool.slice(0, -1)));
  if (!toolOk) return false;
  if (rule.paths) {
    // The path is the canonical one the tool's prepare step produced.
    const p = argString(args, 'path');
    if (!p || !rule.paths.some((g) => matchGlob(p, g))) return false;
  }
  if (rule.hosts) {
    const t = targetOfUrl(argString(args, 'url'));
    if (!t || !hostPatternsOf(rule.hosts).some((p) => hostPatternMatches(p, t))) return false;
  }
  const argv = args && typeof args === 'object' ? (args as { argv?: unknown }).argv : undefined;
  if (rule.commands) {
    // argv[0] as exec.run's prepare step resolved it (absolute).
    const cmd = Array.isArray(argv) && typeof argv[0] === 'string' ? decidedCommand(argv[0]) : undefined;
    if (!cmd || !rule.commands.some((c) => commandMatches(cmd, c))) return false;
  }
  if (rule.argv) {
    if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) return false;
    const rest = (argv as string[]).slice(1);
    if (!rule.argv.some((pat) => matchArgv(rest, pat))) return false;
  }
  return true;
}

export class AllowListDecisionPoint implements DecisionPoint {
  constructor(private readonly profiles: () => Record<string, ProfileConfig>) {}

  decide(req: ActionRequest): Decision {
    const profile = req.principal.profile ? this.profiles()[req.principal.profile] : undefined;
    if (!profile) return { effect: 'deny', tier: 'default', policies: ['default-deny'], reasons: ['no profile grants anything to this principal'] };
    const denied = profile.tools.deny.findIndex((r) => ruleMatches(r, req.tool, req.args));
    if (denied >= 0) return { effect: 'deny', tier: 'config', policies: [`config:${profile.name}:deny:${denied}`], reasons: [`${req.tool} is in agents.${profile.name}.tools.deny`] };
    const allowed = profile.tools.allow.findIndex((r) => ruleMatches(r, req.tool, req.args));
    if (allowed >= 0) return { effect: 'allow', tier: 'config', policies: [`config:${profile.name}:allow:${allowed}`], reasons: [`${req.tool} is in agents.${profile.name}.tools.allow`] };
    // The profile's own model is part of its definition: model.chat to it is allowed.
    if (req.tool === 'model.chat' && profile.model) return { effect: 'allow', tier: 'config', policies: [`config:${profile.name}:model`], reasons: [`agents.${profile.name}.model is ${profile.model}`] };
    return { effect: 'deny', tier: 'default', policies: ['default-deny'], reasons: [`${req.tool} is not in agents.${profile.name}.tools.allow`] };
  }
}
