/**
 * The config tier: `clawguard.json` compiled to Cedar. Per profile, `tools.deny` rules become
 * forbids and `tools.allow` rules permits (argument rules become conditions: `paths` globs on the
 * canonical path, `hosts` on the origin of args.url, read as host-pattern.ts reads them, `commands` on the resolved argv[0] (a bare name
 * stands for that name in each directory of the sandbox's fixed PATH), `argv` patterns on the
 * arguments after it); a profile with a `model` may call
 * `model.chat`; `secrets.<name>.agents` may `secret.use` that secret towards its `allowedHosts` only (an
 * empty list is nowhere). A registered agent whose principal names a profile gets that profile's grants.
 */
import type { ClawguardConfig, ToolRule } from '../config/index.js';
import { commandForms, parseHostPatterns, type HostPattern, type HostPatternOptions } from '../sandbox/index.js';
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

/** How each kind of config entry reads a host (src/sandbox/host-pattern.ts). */
const TOOL_RULE_HOSTS: HostPatternOptions = { defaults: 'any', star: true };
const SECRET_HOSTS: HostPatternOptions = { defaults: 'origin' };

/**
 * One host pattern as a Cedar test on `context.origin` (`scheme://host:port`, built by the request
 * from the URL parser's view of args.url, so always canonical and with its port). A test on the
 * origin rather than `context.host` is what lets a port or scheme in the entry mean what it says
 * (a host-only test let `api.github.com:443` through on any port, which the broker refuses). Why
 * not a precomputed `context.hostBound`: this keeps the Cedar tier an independent check, and
 * `policy explain` can show the test. In a canonical origin
 * "://" occurs once and the host has no ":" (IPv6 is bracketed and cannot be under a wildcard),
 * so a `*` standing for a scheme or a port cannot reach into the host.
 */
function patternCondition(p: HostPattern): string {
  if (p.kind === 'any') return 'true';
  // Wildcard: at least one character before ".domain" (host-pattern never matches the apex or ".domain").
  if (p.kind === 'wildcard') return `(${originTest(p, `.${p.host}`, true, '==')} && ${originTest(p, `.${p.host}`, false, '!=')})`;
  return originTest(p, p.host, false, '==');
}

/** `context.origin` against `scheme://[*]host:port`, with `*` where the pattern leaves scheme or port open. */
function originTest(p: HostPattern, host: string, wildHost: boolean, op: '==' | '!='): string {
  const parts: string[] = [];
  let cur = p.scheme ? `${p.scheme}://` : '';
  if (!p.scheme) {
    parts.push('');
    cur = '://';
  }
  if (wildHost) {
    parts.push(cur);
    cur = '';
  }
  cur += `${host}:`;
  if (p.port !== undefined) cur += String(p.port);
  else {
    parts.push(cur);
    cur = '';
  }
  parts.push(cur);
  if (parts.length === 1) return `context.origin ${op} ${lit(parts[0]!)}`;
  const test = `context.origin like ${likePattern(parts)}`;
  return op === '==' ? test : `!(${test})`;
}

/** Cedar condition for a list of host patterns: true when any names the request's origin; an empty list is false. */
function originCondition(patterns: HostPattern[]): string {
  if (patterns.some((p) => p.kind === 'any')) return 'context has origin';
  return patterns.length ? `context has origin && (${patterns.map(patternCondition).join(' || ')})` : 'false';
}

/** Cedar condition for a tool rule's `hosts` (any scheme and port unless an entry names one; `*` every host). */
export function hostCondition(entries: readonly string[]): string {
  return originCondition(parseHostPatterns(entries, TOOL_RULE_HOSTS));
}

/** Cedar condition for `secrets.<name>.allowedHosts` (https on 443 unless an entry says otherwise); empty is nowhere. */
export function secretHostCondition(entries: readonly string[]): string {
  return originCondition(parseHostPatterns(entries, SECRET_HOSTS));
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
    // The same test as the broker's (secrets/hosts.ts), on the origin: an empty list grants nowhere.
    const conds = [secretHostCondition(s.allowedHosts)];
    const resource = `resource == ${entity('Secret', s.name)}`;
    for (const a of s.agents) {
      for (const [kind, type] of [['profile', 'Profile'], ['agent', 'Agent']] as const) {
        const id = `config:secret:${s.name}:${kind}:${a}`;
        const principal = kind === 'profile' ? `principal in ${entity(type, a)}` : `principal == ${entity(type, a)}`;
        out.push({
          id,
          text: policy(id, 'permit', principal, actionScope('secret.use'), resource, conds),
          reason: `secrets.${s.name}.agents includes ${JSON.stringify(a)} and the destination is in allowedHosts`,
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
