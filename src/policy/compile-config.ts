/**
 * The config tier: `clawguard.json` compiled to Cedar. Per profile, `tools.deny` rules become
 * forbids and `tools.allow` rules permits (argument rules become conditions: `paths` globs on the
 * canonical path, `hosts` on the host of args.url, `commands` on the resolved argv[0] (a bare name
 * stands for that name in each directory of the sandbox's fixed PATH), `argv` patterns on the
 * arguments after it); a profile with a `model` may call
 * `model.chat`; `secrets.<name>.agents` may `secret.use` that secret, on `allowedHosts` only when
 * that list is set. A registered agent whose principal names a profile gets that profile's grants.
 */
import type { ClawguardConfig, ToolRule } from '../config/index.js';
import { commandForms } from '../sandbox/exec-command.js';
import { parseHostPatterns, policyHostOf, SECRET_BINDING } from '../sandbox/host-pattern.js';
import { isGroupPattern } from './actions.js';
import { argvPatternKey } from './globs.js';
import { entity, likePattern, lit, strSet } from './cedar-text.js';

export interface PolicySource {
  /** Display id (unique across all tiers). */
  id: string;
  text: string;
  /** Human reason shown when this policy decides; `{action}` is replaced with the tool name. */
  reason?: string;
  /** Path globs this policy tests through context.matchedGlobs. */
  globs?: string[];
  /** Argument patterns this policy tests through context.matchedArgv. */
  argv?: string[][];
  /** Where it came from (file:line or config path). */
  origin: string;
}

function actionScope(tool: string): string {
  return isGroupPattern(tool) ? `action in ${entity('Action', tool)}` : `action == ${entity('Action', tool)}`;
}

/** Cedar condition for host patterns, with the semantics of the allow-list: `*`, `*.example.com`, exact. */
export function hostCondition(patterns: string[]): string {
  const parts: string[] = [];
  for (const raw of patterns) {
    const p = raw.toLowerCase();
    if (p === '*') return 'context has host';
    if (p.startsWith('*.')) parts.push(`(context.host like ${likePattern(['', p.slice(1)])} && context.host != ${lit(p.slice(1))})`);
    else parts.push(`context.host == ${lit(p)}`);
  }
  return `context has host && (${parts.join(' || ')})`;
}

function ruleConditions(rule: ToolRule): string[] {
  const c: string[] = [];
  if (rule.paths) c.push(`context.matchedGlobs.containsAny(${strSet(rule.paths)})`);
  if (rule.hosts) c.push(hostCondition(rule.hosts));
  if (rule.commands) c.push(`context has command && ${strSet([...new Set(rule.commands.flatMap(commandForms))])}.contains(context.command)`);
  if (rule.argv) c.push(`context.matchedArgv.containsAny(${strSet(rule.argv.map(argvPatternKey))})`);
  return c;
}

function policy(id: string, effect: 'permit' | 'forbid', principal: string, action: string, resource: string, conds: string[]): string {
  return `@id(${lit(id)})\n${effect}(${principal}, ${action}, ${resource})${conds.length ? `\nwhen { ${conds.join(' && ')} }` : ''};`;
}

export function compileConfig(config: Pick<ClawguardConfig, 'agents' | 'secrets'>): PolicySource[] {
  const out: PolicySource[] = [];
  for (const p of Object.values(config.agents)) {
    const principal = `principal in ${entity('Profile', p.name)}`;
    const rules = (kind: 'allow' | 'deny', list: ToolRule[]) =>
      list.forEach((rule, i) => {
        const id = `config:${p.name}:${kind}:${i}`;
        out.push({
          id,
          text: policy(id, kind === 'allow' ? 'permit' : 'forbid', principal, actionScope(rule.tool), 'resource', ruleConditions(rule)),
          reason: `{action} is in agents.${p.name}.tools.${kind}${rule.paths || rule.hosts || rule.commands || rule.argv ? ' (with its argument rules)' : ''}`,
          ...(rule.paths ? { globs: [...rule.paths] } : {}),
          ...(rule.argv ? { argv: rule.argv.map((a) => [...a]) } : {}),
          origin: `agents.${p.name}.tools.${kind}[${i}]`,
        });
      });
    rules('deny', p.tools.deny);
    rules('allow', p.tools.allow);
    if (p.model) {
      const id = `config:${p.name}:model`;
      out.push({ id, text: policy(id, 'permit', principal, actionScope('model.chat'), 'resource', []), reason: `agents.${p.name}.model is ${p.model}`, origin: `agents.${p.name}.model` });
    }
  }
  for (const s of Object.values(config.secrets)) {
    // The Cedar context has the host only; scheme and port of a binding are the broker's check (secrets/hosts.ts).
    const hosts = parseHostPatterns(s.allowedHosts, SECRET_BINDING).map(policyHostOf);
    const conds = s.allowedHosts.length ? [hostCondition(hosts.length ? hosts : ['(no parsable host)'])] : [];
    const resource = `resource == ${entity('Secret', s.name)}`;
    for (const a of s.agents) {
      for (const [kind, type] of [['profile', 'Profile'], ['agent', 'Agent']] as const) {
        const id = `config:secret:${s.name}:${kind}:${a}`;
        const principal = kind === 'profile' ? `principal in ${entity(type, a)}` : `principal == ${entity(type, a)}`;
        out.push({
          id,
          text: policy(id, 'permit', principal, actionScope('secret.use'), resource, conds),
          reason: `secrets.${s.name}.agents includes ${JSON.stringify(a)}${s.allowedHosts.length ? ' and the host is in allowedHosts' : ''}`,
          origin: `secrets.${s.name}.agents`,
        });
      }
    }
  }
  return out;
}

/** Tool names the config mentions exactly (not groups), so the schema knows them. */
export function configActions(config: Pick<ClawguardConfig, 'agents'>): string[] {
  const s = new Set<string>();
  for (const p of Object.values(config.agents)) for (const r of [...p.tools.allow, ...p.tools.deny]) if (!isGroupPattern(r.tool)) s.add(r.tool);
  return [...s];
}
