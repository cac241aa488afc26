/**
 * clawguard configs against the seed's production rules (and, with --rules=strict, the
 * stricter ones). Works on the raw document, not the validated config: the scanner must report
 * on configs that `config check` would reject, and must not depend on the config module.
 * Absent settings are judged by clawguard's effective defaults (e.g. no "audit" = 90 days,
 * no zeroTrust = disabled), so every finding describes what would actually run.
 */
import { homedir } from 'node:os';
import { finding } from '../catalog.js';
import { locate } from '../locate.js';
import { mask } from '../text.js';
import { durationSeconds, rotationIntervalSeconds, WEEK_SECONDS } from '../rotation.js';
import type { Finding, RuleSet } from '../types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ConfigInput {
  doc: Obj;
  text: string;
  file: string;
  rules: RuleSet;
}

const SENSITIVE_NAME = /critical|sensitive|prod(?:uction)?\b|production|secret|admin|privileged|finance|payment|billing|payroll/i;
const DEFAULT_TIMEOUT = 300;
const SENSITIVE_TIMEOUT = 120;
const MIN_RETENTION_DAYS = 90;
const REQUIRED_BLOCKED = ['/etc', '~/.ssh', '~/.aws', '~/.gnupg'];
const ZT_POLICIES: Array<[string, string]> = [
  ['agentCommunication', 'requireAuthentication'], ['agentCommunication', 'encryptAllTraffic'], ['agentCommunication', 'signAllRequests'],
  ['externalAPI', 'validateAllRequests'], ['externalAPI', 'rateLimit'], ['externalAPI', 'auditLog'],
  ['dataAccess', 'principleOfLeastPrivilege'], ['dataAccess', 'dynamicPermissions'], ['dataAccess', 'sessionTokenRotation'],
];
/** clawguard's defaults for the zero-trust policies when the block is present but a key is not. */
const ZT_DEFAULT_ON = new Set(['requireAuthentication', 'validateAllRequests', 'auditLog', 'principleOfLeastPrivilege']);

export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A string that points at a secret instead of being one. */
export function isSecretReference(v: string): boolean {
  return /^\$\{[^}]+\}$|^\$[A-Z_][A-Z0-9_]*$|^(?:env|file|exec|vault|secret|secretref|op|aws-sm|awssm|gcpsm|sm):/i.test(v.trim()) || v.trim() === '';
}

/** Home directories the config itself talks about (/root/... in the seed), plus the scanner's. */
function homesOf(paths: string[]): string[] {
  const homes = new Set<string>([homedir()]);
  for (const p of paths) {
    const m = /^(\/root|\/home\/[^/]+|\/Users\/[^/]+)(?:\/|$)/.exec(p);
    if (m) homes.add(m[1]!);
  }
  return [...homes];
}

/** Does one of `blocked` cover `required` (~ = any home the config targets)? A parent covers a child. */
function covers(blocked: string[], required: string, homes: string[]): boolean {
  const norm = (p: string) => p.replace(/\/+$/, '').replace(/\/\*\*?$/, '') || '/';
  const candidates = required.startsWith('~/') ? ['~' + required.slice(1), ...homes.map((h) => h + required.slice(1)), '$HOME' + required.slice(1)] : [required];
  return blocked.map(norm).some((b) => {
    if (b === '/') return true;
    if (b === '**/' + required.slice(2) || b === '**' + required.slice(1)) return true;
    return candidates.some((c) => c === b || c.startsWith(b + '/') || (b.startsWith('~/') && homes.some((h) => c === h + b.slice(1) || c.startsWith(h + b.slice(1) + '/'))));
  });
}

export function checkClawguardConfig(input: ConfigInput): Finding[] {
  const out: Finding[] = [];
  const { text, file, rules } = input;
  const strict = rules === 'strict';
  const wrapped = isObj(input.doc.openclaw);
  const doc: Obj = wrapped ? { ...input.doc, ...(input.doc.openclaw as Obj) } : input.doc;
  const pre = wrapped ? ['openclaw'] : [];
  const at = (...path: string[]) => locate(text, [...pre, ...path]);
  const add = (id: string, path: string[], detail: string, extra: { severity?: Finding['severity'] } = {}) => out.push(finding(id, { file, line: at(...path), detail, ...extra }));

  // ---- literal credentials anywhere a key could be written ----
  const literal = (path: string[], value: unknown) => {
    if (typeof value !== 'string' || isSecretReference(value)) return;
    add('clawguard.secrets.literal_key', path, `${path.join('.')} holds a literal credential (${mask(value)}); every API key must come through an external secret.`);
  };
  const models = isObj(doc.models) ? doc.models : {};
  for (const [name, m] of Object.entries(models)) {
    if (!isObj(m)) continue;
    for (const k of ['apiKey', 'api_key', 'key', 'token', 'password']) if (k in m) literal(['models', name, k], m[k]);
    if (isObj(m.headers)) for (const [h, v] of Object.entries(m.headers)) if (/authorization|api[-_]?key|token/i.test(h)) literal(['models', name, 'headers', h], v);
    if (strict && typeof m.apiKeyEnv === 'string' && !m.apiKeySecret) add('clawguard.models.api_key_env', ['models', name, 'apiKeyEnv'], `models.${name} reads its API key from $${m.apiKeyEnv} instead of an external secret.`);
  }
  const gateway = isObj(doc.gateway) ? doc.gateway : {};
  if (isObj(gateway.auth)) for (const k of ['token', 'password']) if (k in gateway.auth) literal(['gateway', 'auth', k], gateway.auth[k]);

  // ---- secrets: external, rotated at least weekly ----
  const secrets = isObj(doc.secrets) ? doc.secrets : {};
  for (const [name, s] of Object.entries(secrets)) {
    if (!isObj(s)) continue;
    for (const k of ['value', 'secret', 'token', 'password', 'apiKey']) if (k in s) literal(['secrets', name, k], s[k]);
    const provider = typeof s.provider === 'string' ? s.provider : 'external';
    if (provider !== 'external') add('clawguard.secrets.not_external', ['secrets', name, 'provider'], `secrets.${name} uses provider "${provider}".`);
    else if (strict && ['env', 'file', 'local', 'exec'].includes(String(s.source))) add('clawguard.secrets.weak_source', ['secrets', name, 'source'], `secrets.${name} comes from source "${String(s.source)}".`);
    if (s.rotation === undefined) {
      if (strict) add('clawguard.secrets.rotation_missing', ['secrets', name], `secrets.${name} has no rotation schedule.`);
    } else {
      const interval = rotationIntervalSeconds(s.rotation);
      if (interval === undefined) add('clawguard.secrets.rotation_invalid', ['secrets', name, 'rotation'], `secrets.${name}.rotation is ${JSON.stringify(s.rotation)}.`);
      else if (interval > WEEK_SECONDS) add('clawguard.secrets.rotation_too_slow', ['secrets', name, 'rotation'], `secrets.${name} rotates ${JSON.stringify(s.rotation)} (every ${Math.round(interval / 86400)} days); at least weekly is required.`);
    }
  }

  // ---- agent profiles ----
  const sandbox = isObj(doc.sandbox) ? doc.sandbox : undefined;
  const globalProcess = sandbox?.isolationLevel === 'process-level';
  const agents = isObj(doc.agents) ? doc.agents : {};
  const threadIsolated: string[] = [];
  for (const [name, p] of Object.entries(agents)) {
    if (!isObj(p)) continue;
    const runtime = typeof p.runtime === 'string' ? p.runtime : 'thread-bound';
    const threadBound = runtime === 'thread' || runtime === 'thread-bound';
    if (threadBound && p['auto-destroy'] === false) add('clawguard.agents.auto_destroy_off', ['agents', name, 'auto-destroy'], `agents.${name} is thread-bound but "auto-destroy" is false.`);
    if (!threadBound && strict) add('clawguard.agents.not_thread_bound', ['agents', name, 'runtime'], `agents.${name} has runtime "${runtime}".`);
    const sensitive = p.sensitive === true || (p.sensitive !== false && SENSITIVE_NAME.test(name));
    const timeout = durationSeconds(p.timeout) ?? durationSeconds(p['max-duration']) ?? DEFAULT_TIMEOUT;
    if (sensitive && timeout > SENSITIVE_TIMEOUT) {
      const why = p.sensitive === true ? 'is marked sensitive' : `is sensitive by name ("${name}")`;
      const src = p.timeout !== undefined ? 'timeout' : p['max-duration'] !== undefined ? 'max-duration' : 'the default timeout';
      add('clawguard.agents.sensitive_timeout', ['agents', name, p.timeout !== undefined ? 'timeout' : 'max-duration'], `agents.${name} ${why} and may run ${timeout} s (${src}); the limit is ${SENSITIVE_TIMEOUT} s.`);
    }
    if (p['max-concurrent'] === undefined) add('clawguard.agents.max_concurrent_unset', ['agents', name], `agents.${name} sets no "max-concurrent" (clawguard would allow 4 at once by default).`);
    const allow = isObj(p.tools) && Array.isArray(p.tools.allow) ? p.tools.allow : [];
    if (allow.some((t) => t === '*' || (isObj(t) && t.tool === '*'))) add('clawguard.agents.tools_wildcard', ['agents', name, 'tools', 'allow'], `agents.${name}.tools.allow contains "*".`);
    const profileSandbox = isObj(p.sandbox) ? p.sandbox : undefined;
    const process = p.isolation === 'process' || (p.isolation === undefined && (profileSandbox?.isolationLevel ?? sandbox?.isolationLevel) === 'process-level');
    if (!process) threadIsolated.push(name);
    if (profileSandbox) checkSandbox(profileSandbox, ['agents', name, 'sandbox'], `agents.${name}.sandbox`);
  }

  // ---- monitoring ----
  const mon = doc.monitoring;
  const monConfigured = isObj(mon) && (
    (isObj(mon['thread-bound-agents']) && Array.isArray(mon['thread-bound-agents'].metrics) && mon['thread-bound-agents'].metrics.length > 0) ||
    (isObj(mon.secrets) && Array.isArray(mon.secrets.metrics) && mon.secrets.metrics.length > 0) ||
    (isObj(mon.baseline) && mon.baseline.enabled !== false) ||
    isObj(mon.telemetry));
  if (!monConfigured) add('clawguard.monitoring.missing', isObj(mon) ? ['monitoring'] : [], isObj(mon) ? 'The "monitoring" block enables no metrics, baseline or telemetry.' : 'The config has no "monitoring" block.');

  // ---- sandbox ----
  function checkSandbox(sb: Obj | undefined, path: string[], label: string): void {
    const mode = typeof sb?.mode === 'string' ? sb.mode : 'strict';
    if (mode !== 'strict') add('clawguard.sandbox.not_strict', [...path, 'mode'], `${label}.mode is "${mode}".`, mode === 'off' ? { severity: 'critical' } : {});
    const fa = isObj(sb?.fileAccess) ? sb.fileAccess : undefined;
    const blocked = Array.isArray(fa?.blockedPaths) ? fa.blockedPaths.filter((x): x is string => typeof x === 'string') : [];
    const allowedPaths = Array.isArray(fa?.allowedPaths) ? fa.allowedPaths.filter((x): x is string => typeof x === 'string') : [];
    const homes = homesOf([...blocked, ...allowedPaths]);
    const missing = REQUIRED_BLOCKED.filter((r) => !covers(blocked, r, homes));
    if (missing.length > 0) {
      add('clawguard.sandbox.blocked_paths_missing', fa ? [...path, 'fileAccess', 'blockedPaths'] : path, sb ? `${label}.fileAccess.blockedPaths does not cover ${missing.join(', ')}.` : `No sandbox block: nothing blocks ${missing.join(', ')}.`);
    }
    const na = isObj(sb?.networkAccess) ? sb.networkAccess : undefined;
    const allowed = Array.isArray(na?.allowedDomains) ? na.allowedDomains.filter((x): x is string => typeof x === 'string') : [];
    for (const d of allowed) {
      const t = d.trim();
      if (t === '*' || t === '*.*' || /^\*\.[a-z]{2,}$/i.test(t) || t === '**') add('clawguard.sandbox.wildcard_domain', [...path, 'networkAccess', 'allowedDomains'], `${label}.networkAccess.allowedDomains contains "${t}".`);
      else if (strict && t.includes('*')) add('clawguard.sandbox.wildcard_subdomain', [...path, 'networkAccess', 'allowedDomains'], `${label}.networkAccess.allowedDomains contains "${t}".`);
    }
    if (na && Array.isArray(na.blockedDomains) && !na.blockedDomains.includes('*')) {
      add('clawguard.sandbox.network_default_allow', [...path, 'networkAccess', 'blockedDomains'], `${label}.networkAccess.blockedDomains is ${JSON.stringify(na.blockedDomains)} without "*": every other host is reachable.`);
    }
  }
  // The sandbox only matters when something runs in it: a config with neither profiles nor a
  // sandbox block (e.g. secrets only) is not judged on isolation or blocked paths.
  const hasAgents = Object.keys(agents).length > 0;
  if (sandbox || hasAgents) {
    checkSandbox(sandbox, ['sandbox'], 'sandbox');
    if (!globalProcess && threadIsolated.length > 0) {
      add('clawguard.sandbox.isolation_not_process', sandbox ? ['sandbox'] : ['agents'], `${threadIsolated.map((n) => `agents.${n}`).join(', ')} run${threadIsolated.length === 1 ? 's' : ''} in thread isolation (${sandbox ? 'sandbox.isolationLevel is not "process-level"' : 'no sandbox.isolationLevel'}).`);
    } else if (!globalProcess && !hasAgents) {
      add('clawguard.sandbox.isolation_not_process', ['sandbox'], `sandbox.isolationLevel is ${sandbox?.isolationLevel === undefined ? 'not set' : `"${String(sandbox.isolationLevel)}"`}; agents would run in thread isolation.`);
    }
  }

  // ---- zero trust ----
  const zt = isObj(doc.security) && isObj(doc.security.zeroTrust) ? doc.security.zeroTrust : undefined;
  if (zt?.enabled !== true) add('clawguard.zero_trust.disabled', zt ? ['security', 'zeroTrust', 'enabled'] : [], zt ? `security.zeroTrust.enabled is ${JSON.stringify(zt.enabled ?? null)}.` : 'The config has no security.zeroTrust block (zero trust is off by default).');
  else {
    if (zt.enforcement !== undefined && zt.enforcement !== 'strict') add('clawguard.zero_trust.not_strict', ['security', 'zeroTrust', 'enforcement'], `security.zeroTrust.enforcement is ${JSON.stringify(zt.enforcement)}.`);
    if (strict) {
      const policies = isObj(zt.policies) ? zt.policies : {};
      const off = ZT_POLICIES.filter(([g, k]) => {
        const grp = isObj(policies[g]) ? (policies[g] as Obj) : {};
        return grp[k] === undefined ? !ZT_DEFAULT_ON.has(k) : grp[k] !== true;
      }).map(([g, k]) => `${g}.${k}`);
      if (off.length > 0) add('clawguard.zero_trust.policy_off', ['security', 'zeroTrust', 'policies'], `Off: ${off.join(', ')}.`);
    }
  }

  // ---- gateway exposure ----
  const host = typeof gateway.host === 'string' ? gateway.host : '127.0.0.1';
  if (!isLoopbackHost(host)) {
    const tls = isObj(gateway.tls) ? gateway.tls : undefined;
    const hasTls = !!tls && (tls.auto === true || (typeof tls.cert === 'string' && typeof tls.key === 'string'));
    if (!hasTls) add('clawguard.gateway.no_tls', ['gateway', 'host'], `gateway.host is "${host}" and gateway.tls is ${tls ? 'incomplete' : 'not set'}.`);
    const auth = gateway.auth;
    const ztAuth = zt?.enabled === true && !(isObj(zt.policies) && isObj(zt.policies.agentCommunication) && zt.policies.agentCommunication.requireAuthentication === false);
    const gwAuth = auth !== undefined && auth !== false && auth !== null && !(isObj(auth) && (auth.mode === 'none' || auth.enabled === false));
    if (!ztAuth && !gwAuth) add('clawguard.gateway.no_auth', ['gateway', 'host'], `gateway.host is "${host}" with neither gateway.auth nor zero-trust authentication.`);
  }

  // ---- audit retention ----
  const audit = isObj(doc.audit) ? doc.audit : undefined;
  if (audit && typeof audit.retentionDays === 'number' && audit.retentionDays < MIN_RETENTION_DAYS) {
    add('clawguard.audit.retention_short', ['audit', 'retentionDays'], `audit.retentionDays is ${audit.retentionDays}.`);
  }
  return out;
}
