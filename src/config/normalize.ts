/** Raw (validated) config → the typed ClawguardConfig used everywhere below. */
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DEFAULT_AGENT_ENV } from '../sandbox/exec-env.js';
import { normalizeAudit } from './audit-schema.js';
import { parseDurationSeconds, parseRotation } from './durations.js';
import { absolutePattern } from './path-patterns.js';
import { type ConfigProblem, didYouMean } from './problems.js';
import { TOOL_CATALOG, toolGroups } from './tools.js';
import type { RawConfig, RawProfile, RawSandbox, RawSecret } from './schema.js';
import type { ClawguardConfig, ProfileConfig, SandboxConfig, SecretConfig, SecretSource, ToolRule } from './types.js';

export const DEFAULT_PORT = 18780;
export const DEFAULT_HOST = '127.0.0.1';

const SOURCE_CANON: Record<string, SecretSource> = {
  local: 'local', env: 'env', file: 'file', exec: 'exec',
  vault: 'vault', 'hashiCorp-vault': 'vault', 'hashicorp-vault': 'vault',
  'secrets-manager': 'aws-secrets-manager', 'aws-secrets-manager': 'aws-secrets-manager',
  'aws-kms': 'aws-kms',
};

function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return p;
}

export function normalizeSandbox(raw: RawSandbox | undefined): SandboxConfig {
  const r = raw ?? { mode: 'strict' as const };
  return {
    mode: r.mode ?? 'strict',
    ...(r.isolationLevel ? { isolationLevel: r.isolationLevel } : {}),
    allowedPaths: (r.fileAccess?.allowedPaths ?? []).map(expandHome),
    blockedPaths: (r.fileAccess?.blockedPaths ?? []).map(expandHome),
    allowedDomains: r.networkAccess?.allowedDomains ?? [],
    // No network block at all means nothing is allowed beyond the allow list (default deny).
    blockedDomains: r.networkAccess?.blockedDomains ?? ['*'],
    allowPrivate: r.networkAccess?.allowPrivate ?? [],
    exec: {
      envAllow: r.exec?.envAllow ?? ['PATH', 'LANG', 'LC_ALL', 'TZ'],
      agentEnv: r.exec?.agentEnv ?? [...DEFAULT_AGENT_ENV],
      timeoutMs: r.exec?.timeoutMs ?? 30_000,
      maxOutputBytes: r.exec?.maxOutputBytes ?? 1024 * 1024,
      cpuSeconds: r.exec?.cpuSeconds ?? 30,
      addressSpaceMb: r.exec?.addressSpaceMb ?? 1024,
      processes: r.exec?.processes ?? 64,
      fileSizeMb: r.exec?.fileSizeMb ?? 64,
    },
  };
}

export interface NormalizeOptions {
  /** Tool names beyond the catalogue that rules may name (tools a test or an embedding registers itself). */
  extraTools?: readonly string[];
}

/**
 * Rules as objects. A rule naming a tool or group outside the catalogue never matches a call: a
 * problem, with a did-you-mean. Relative and `~` path patterns are made absolute (see path-patterns.ts).
 */
function toolRules(list: RawProfile['tools'] extends infer T ? (T extends { allow: infer A } ? A : never) : never, at: string, known: readonly string[], workspace: string | undefined, problems: ConfigProblem[]): ToolRule[] {
  return (list as Array<string | ToolRule>).map((r, i) => {
    const rule = typeof r === 'string' ? { tool: r } : { ...r };
    if (!known.includes(rule.tool)) {
      const hint = didYouMean(rule.tool, known);
      problems.push({ path: `${at}[${i}]${typeof r === 'string' ? '' : '.tool'}`, message: `unknown tool ${JSON.stringify(rule.tool)}${hint ? ` (did you mean "${hint}"?)` : ''}; the gateway's tools are ${TOOL_CATALOG.join(', ')}, and groups such as "fs.*" or "*"` });
    }
    if (typeof r !== 'string' && r.paths) {
      rule.paths = r.paths.map((g, j) => {
        const a = absolutePattern(g, workspace);
        if ('problem' in a) problems.push({ path: `${at}[${i}].paths[${j}]`, message: `${JSON.stringify(g)} ${a.problem}` });
        return 'pattern' in a ? a.pattern : g;
      });
    }
    return rule;
  });
}

function normalizeProfile(name: string, p: RawProfile, globalSandbox: SandboxConfig, rawGlobalSandbox: RawSandbox | undefined, baseDir: string, knownTools: readonly string[], problems: ConfigProblem[]): ProfileConfig {
  const at = `agents.${name}`;
  const timeoutRaw = p.timeout ?? p['max-duration'];
  const timeoutSeconds = timeoutRaw === undefined ? 300 : parseDurationSeconds(timeoutRaw)!;
  if (p.timeout !== undefined && p['max-duration'] !== undefined && parseDurationSeconds(p.timeout) !== parseDurationSeconds(p['max-duration'])) {
    problems.push({ path: `${at}.max-duration`, message: `conflicts with ${at}.timeout (both set to different values); set only one` });
  }
  const runtime = p.runtime === 'session' ? 'session' : 'thread-bound';
  if (runtime === 'thread-bound' && p['auto-destroy'] === false) {
    problems.push({ path: `${at}.auto-destroy`, message: 'expected true for a thread-bound profile (instances are never reused across requests); use runtime "session" to keep an instance, got false' });
  }
  const sandbox = p.sandbox ? normalizeSandbox(p.sandbox) : globalSandbox;
  const level = (p.sandbox ?? rawGlobalSandbox)?.isolationLevel;
  const isolation = p.isolation ?? (level === 'process-level' ? 'process' : 'thread');
  const entry = p.entry === undefined ? undefined : isAbsolute(p.entry) ? p.entry : resolve(baseDir, p.entry);
  const workspace = p.workspace ? resolve(baseDir, expandHome(p.workspace)) : sandbox.allowedPaths[0];
  return {
    name,
    runtime,
    ...(p.model ? { model: p.model } : {}),
    autoDestroy: p['auto-destroy'],
    timeoutSeconds,
    maxConcurrent: p['max-concurrent'] ?? 4,
    queueLimit: p.queueLimit ?? 100,
    warmPool: p.warmPool ?? (isolation === 'process' ? 1 : 2),
    deterministic: p.deterministic,
    ...(entry ? { entry } : {}),
    isolation,
    memoryMb: p.memoryMb ?? 128,
    maxSteps: p.maxSteps ?? 8,
    maxOutputBytes: p.maxOutputBytes ?? 1024 * 1024,
    maxLogLines: p.maxLogLines ?? 1000,
    maxLogBytes: p.maxLogBytes ?? 1024 * 1024,
    sensitive: p.sensitive ?? false,
    trustLevel: p.trustLevel ?? 'limited',
    capabilities: p.capabilities ?? [],
    session: {
      idleSeconds: parseDurationSeconds(p.session?.idleTimeout ?? 600)!,
      maxAgeSeconds: parseDurationSeconds(p.session?.maxAge ?? 3600)!,
    },
    tools: { allow: toolRules(p.tools?.allow ?? [], `${at}.tools.allow`, knownTools, workspace, problems), deny: toolRules(p.tools?.deny ?? [], `${at}.tools.deny`, knownTools, workspace, problems) },
    sandbox,
    ...(workspace ? { workspace } : {}),
  };
}

function normalizeSecret(name: string, s: RawSecret): SecretConfig {
  const { provider, source, rotation, agents, allowedHosts, gracePeriod, cacheTtl, ...settings } = s;
  return {
    name,
    provider,
    source: SOURCE_CANON[source]!,
    sourceSpelling: source,
    ...(rotation ? { rotation: parseRotation(rotation)! } : {}),
    agents: agents ?? [],
    allowedHosts: allowedHosts ?? [],
    gracePeriodSeconds: gracePeriod === undefined ? 3600 : parseDurationSeconds(gracePeriod)!,
    cacheTtlSeconds: cacheTtl === undefined ? 300 : parseDurationSeconds(cacheTtl)!,
    settings: Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)),
  };
}

/** Connection limits of the HTTP server; fastify's defaults (no cap, 72 s keep-alive, Node's 60 s header wait) do not fit a gateway. */
function gatewayLimits(g: NonNullable<RawConfig['gateway']>, problems: ConfigProblem[]): Pick<ClawguardConfig['gateway'], 'maxConnections' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'> {
  const ms = (v: string | number | undefined, dflt: number) => Math.round((v === undefined ? dflt : parseDurationSeconds(v)!) * 1000);
  const limits = {
    maxConnections: g.maxConnections ?? 1024,
    headersTimeoutMs: ms(g.headersTimeout, 10),
    requestTimeoutMs: ms(g.requestTimeout, 30),
    keepAliveTimeoutMs: ms(g.keepAliveTimeout, 5),
  };
  // Node refuses a header timeout longer than the whole-request timeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) problems.push({ path: 'gateway.headersTimeout', message: `expected at most gateway.requestTimeout (${limits.requestTimeoutMs / 1000} s), got ${limits.headersTimeoutMs / 1000} s` });
  return limits;
}

export function normalize(raw: RawConfig, source: string | undefined, wrapped: boolean, problems: ConfigProblem[], opts: NormalizeOptions = {}): ClawguardConfig {
  const baseDir = source ? dirname(resolve(source)) : process.cwd();
  const sandbox = normalizeSandbox(raw.sandbox);
  const tools = [...TOOL_CATALOG, ...(opts.extraTools ?? [])];
  const knownTools = [...tools, ...toolGroups(tools)];
  const agents: Record<string, ProfileConfig> = {};
  for (const [name, p] of Object.entries(raw.agents ?? {})) agents[name] = normalizeProfile(name, p, sandbox, raw.sandbox, baseDir, knownTools, problems);
  const secrets: Record<string, SecretConfig> = {};
  for (const [name, s] of Object.entries(raw.secrets ?? {})) secrets[name] = normalizeSecret(name, s);
  const models: ClawguardConfig['models'] = {};
  for (const [name, m] of Object.entries(raw.models ?? {})) {
    if (m.apiKeySecret && !secrets[m.apiKeySecret]) problems.push({ path: `models.${name}.apiKeySecret`, message: `names secret "${m.apiKeySecret}", which is not defined under "secrets"` });
    models[name] = { name, type: m.type, baseUrl: m.baseUrl.replace(/\/+$/, ''), ...(m.apiKeyEnv ? { apiKeyEnv: m.apiKeyEnv } : {}), ...(m.apiKeySecret ? { apiKeySecret: m.apiKeySecret } : {}), timeoutMs: m.timeoutMs ?? 60_000, headers: m.headers ?? {}, ...(m.allowPrivate ? { allowPrivate: true } : {}) };
  }
  const mon = raw.monitoring;
  const zt = raw.security?.zeroTrust;
  const g = raw.gateway ?? {};
  return {
    ...(source ? { source: resolve(source) } : {}),
    openclawWrapped: wrapped,
    gateway: {
      host: g.host ?? DEFAULT_HOST,
      port: g.port ?? DEFAULT_PORT,
      bodyLimitBytes: g.bodyLimitBytes ?? 1024 * 1024,
      shutdownGraceSeconds: g.shutdownGraceSeconds === undefined ? 10 : parseDurationSeconds(g.shutdownGraceSeconds)!,
      ...gatewayLimits(g, problems),
      ...(g.tls ? { tls: { ...(g.tls.cert ? { cert: resolve(baseDir, g.tls.cert) } : {}), ...(g.tls.key ? { key: resolve(baseDir, g.tls.key) } : {}), auto: g.tls.auto ?? false } } : {}),
    },
    agents,
    models,
    secrets,
    monitoring: {
      threadBoundMetrics: mon?.['thread-bound-agents']?.metrics ?? [],
      secretMetrics: mon?.secrets?.metrics ?? [],
      ...(mon?.baseline
        ? { baseline: { enabled: mon.baseline.enabled, sampleWindowSeconds: parseDurationSeconds(mon.baseline.sampleWindow)!, statisticalDeviation: mon.baseline.alertThreshold.statisticalDeviation, anomalyScore: mon.baseline.alertThreshold.anomalyScore } }
        : {}),
      ...(mon?.telemetry
        ? { telemetry: { enableDiagnostics: mon.telemetry.enableDiagnostics, captureAllRequests: mon.telemetry.captureAllRequests, exportFormat: 'JSON-Lines' as const, ...(mon.telemetry.output ? { output: mon.telemetry.output } : {}) } }
        : {}),
      metricsPublic: mon?.metrics?.public ?? true,
    },
    sandbox,
    zeroTrust: {
      enabled: zt?.enabled ?? false,
      enforcement: zt?.enforcement ?? 'strict',
      requireAuthentication: zt?.policies.agentCommunication.requireAuthentication ?? true,
      encryptAllTraffic: zt?.policies.agentCommunication.encryptAllTraffic ?? false,
      signAllRequests: zt?.policies.agentCommunication.signAllRequests ?? false,
      validateAllRequests: zt?.policies.externalAPI.validateAllRequests ?? true,
      rateLimit: zt?.policies.externalAPI.rateLimit ?? false,
      auditLog: zt?.policies.externalAPI.auditLog ?? true,
      principleOfLeastPrivilege: zt?.policies.dataAccess.principleOfLeastPrivilege ?? true,
      dynamicPermissions: zt?.policies.dataAccess.dynamicPermissions ?? false,
      sessionTokenRotation: zt?.policies.dataAccess.sessionTokenRotation ?? false,
      rateLimitPerSecond: zt?.rateLimit?.requestsPerSecond ?? 20,
      rateLimitBurst: zt?.rateLimit?.burst ?? 40,
      clockSkewSeconds: zt?.clockSkewSeconds ?? 60,
      sessionTokenTtlSeconds: zt?.sessionTokenTtl === undefined ? 900 : parseDurationSeconds(zt.sessionTokenTtl)!,
    },
    audit: normalizeAudit(raw.audit, baseDir),
    policy: { ...(raw.policy?.dir ? { dir: resolve(baseDir, raw.policy.dir) } : {}) },
  };
}
