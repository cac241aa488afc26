/**
 * The raw schema of clawguard.json: the seed articles' spellings (kebab-case keys such as
 * `auto-destroy`, `max-duration`) plus clawguard's own keys. Every object is strict, so an
 * unknown key is an error (with a did-you-mean, see errors.ts).
 */
import { z } from 'zod';
import { neverAgentSettable } from '../sandbox/exec-env.js';
import { DESTINATION_LIST, hostPatternProblems, PRIVATE_LIST, SECRET_BINDING, type HostPatternOptions } from '../sandbox/host-pattern.js';
import { auditSchema } from './audit-schema.js';
import { intSeconds, millis, nonNegativeInt, positiveInt, seconds } from './bounded.js';
import { parseDurationSeconds, parseRotation, rotationMaxIntervalSeconds } from './durations.js';
import { literalPathProblem } from './path-patterns.js';

/** A list of host patterns (src/sandbox/host-pattern.ts): an entry that cannot be parsed names itself and why. */
const hostList = (o: HostPatternOptions) =>
  z.array(z.string().min(1)).superRefine((list, ctx) => {
    for (const p of hostPatternProblems(list, o)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [p.index], message: p.message });
  });

const H = 3600;
const D = 86400;

const toolRule = z.union([
  z.string().min(1),
  z
    .object({
      tool: z.string().min(1),
      /** Glob patterns on the path argument (fs.*). */
      paths: z.array(z.string().min(1)).optional(),
      /** Host patterns on the URL argument (http.fetch). */
      hosts: z.array(z.string().min(1)).optional(),
      /** Allowed commands (exec.run): an absolute path, or a bare name found on the sandbox's fixed PATH. */
      commands: z
        .array(
          z.string().min(1).refine((c) => c.startsWith('/') || !c.includes('/'), { message: 'expected an absolute path or a bare command name (looked up on the sandbox PATH), not a relative path' }),
        )
        .optional(),
      /**
       * Argument patterns (exec.run), matched against argv[1..]: one element per argument, `*` and `?`
       * wildcards within it, `**` alone for any number of arguments. The call matches if any pattern does.
       */
      argv: z.array(z.array(z.string().max(4096)).max(256)).optional(),
    })
    .strict(),
]);

const literalPath = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    const problem = literalPathProblem(p);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(p)} ${problem}` });
  });

const fileAccess = z
  .object({
    allowedPaths: z.array(literalPath).default([]),
    blockedPaths: z.array(literalPath).default([]),
  })
  .strict();

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
  .superRefine((n, ctx) => {
    const why = neverAgentSettable(n);
    if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${n} may never be set by agents: ${why}` });
  });

const networkAccess = z
  .object({
    allowedDomains: hostList(DESTINATION_LIST).default([]),
    blockedDomains: hostList(DESTINATION_LIST).default([]),
    /** Hosts, addresses or CIDRs (optionally with a port) reachable even though private or loopback (e.g. a local model server). */
    allowPrivate: hostList(PRIVATE_LIST).default([]),
  })
  .strict();

export const sandboxSchema = z
  .object({
    mode: z.enum(['strict', 'standard', 'off']).default('strict'),
    isolationLevel: z.enum(['process-level', 'thread-level']).optional(),
    fileAccess: fileAccess.optional(),
    networkAccess: networkAccess.optional(),
    exec: z
      .object({
        envAllow: z.array(z.string()).optional(),
        /** Variables agents may set in exec.run's `env` (default: locale, TZ, terminal size). */
        agentEnv: z.array(envName).optional(),
        timeoutMs: millis(24 * H).optional(),
        maxOutputBytes: positiveInt('bytes').optional(),
        cpuSeconds: intSeconds(24 * H).optional(),
        addressSpaceMb: positiveInt('MiB').optional(),
        processes: positiveInt('processes').optional(),
        fileSizeMb: positiveInt('MiB').optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const profileSchema = z
  .object({
    runtime: z.enum(['thread', 'thread-bound', 'session']).default('thread-bound'),
    model: z.string().min(1).optional(),
    'auto-destroy': z.boolean().default(true),
    timeout: seconds(24 * H).optional(),
    'max-duration': seconds(24 * H).optional(),
    'max-concurrent': positiveInt('concurrent runs').optional(),
    deterministic: z.boolean().default(false),
    entry: z.string().min(1).optional(),
    isolation: z.enum(['thread', 'process']).optional(),
    memoryMb: positiveInt('MiB').optional(),
    queueLimit: nonNegativeInt('queued runs').optional(),
    warmPool: nonNegativeInt('warm instances').optional(),
    maxSteps: positiveInt('model steps').optional(),
    maxOutputBytes: positiveInt('bytes').optional(),
    maxLogLines: positiveInt('log lines').optional(),
    maxLogBytes: positiveInt('bytes').optional(),
    workspace: z.string().min(1).optional(),
    sensitive: z.boolean().optional(),
    trustLevel: z.enum(['trusted', 'limited', 'restricted']).optional(),
    capabilities: z.array(z.string()).optional(),
    session: z
      .object({ idleTimeout: seconds(24 * H).optional(), maxAge: seconds(7 * D).optional() })
      .strict()
      .optional(),
    tools: z
      .object({ allow: z.array(toolRule).default([]), deny: z.array(toolRule).default([]) })
      .strict()
      .optional(),
    sandbox: sandboxSchema.optional(),
  })
  .strict();

export const secretSources = [
  'local', 'env', 'file', 'exec',
  'vault', 'hashiCorp-vault', 'hashicorp-vault',
  'secrets-manager', 'aws-secrets-manager', 'aws-kms',
] as const;

export const secretSchema = z
  .object({
    provider: z.enum(['external', 'local']).default('external'),
    source: z.enum(secretSources),
    rotation: z
      .string()
      .superRefine((v, ctx) => {
        const r = parseRotation(v);
        if (!r) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected hourly, daily, weekly, monthly, a duration like "36h" or a cron expression, got ${JSON.stringify(v)}` });
        } else if (r.kind === 'interval' && r.seconds > 366 * D) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected at most 366d between rotations, got ${JSON.stringify(v)}` });
        } else if (r.kind === 'cron' && rotationMaxIntervalSeconds(r) === 0) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `the cron expression ${JSON.stringify(v)} never fires within a year` });
        }
      })
      .optional(),
    agents: z.array(z.string().min(1)).optional(),
    /** Where the secret may be sent: host (https, 443), host:port (https), scheme://host:port, *.domain. */
    allowedHosts: hostList(SECRET_BINDING).optional(),
    gracePeriod: seconds(30 * D).optional(),
    cacheTtl: seconds(24 * H).optional(),
    // connection settings, per source
    env: z.string().optional(),
    file: z.string().optional(),
    pointer: z.string().optional(),
    command: z.string().optional(),
    args: z.array(z.string()).optional(),
    id: z.string().optional(),
    timeoutMs: millis(10 * 60).optional(),
    address: z.string().optional(),
    namespace: z.string().optional(),
    mount: z.string().optional(),
    path: z.string().optional(),
    field: z.string().optional(),
    auth: z
      .object({ method: z.enum(['token', 'approle']), tokenEnv: z.string().optional(), roleId: z.string().optional(), secretIdEnv: z.string().optional() })
      .strict()
      .optional(),
    region: z.string().optional(),
    secretId: z.string().optional(),
    versionStage: z.string().optional(),
    keyId: z.string().optional(),
    endpoint: z.string().optional(),
    generator: z.object({ length: positiveInt('bytes').optional(), prefix: z.string().optional() }).strict().optional(),
    /** exec: cap on the resolver's stdout; environment variables passed to it (besides PATH). */
    maxOutputBytes: positiveInt('bytes').optional(),
    passEnv: z.array(z.string().min(1)).optional(),
    /** aws-kms: wrap the local store's master key with this KMS key. */
    wrapMasterKey: z.boolean().optional(),
  })
  .strict();

const modelProviderSchema = z
  .object({
    type: z.enum(['openai-compatible', 'anthropic']),
    baseUrl: z.string().url().refine((u) => /^https?:\/\//i.test(u), 'expected an http or https URL'),
    /** Environment variable holding the API key (resolved by the gateway, never given to agents). */
    apiKeyEnv: z.string().min(1).optional(),
    /** Name of a secret under `secrets` holding the API key. */
    apiKeySecret: z.string().min(1).optional(),
    timeoutMs: millis(H).optional(),
    headers: z.record(z.string()).optional(),
    /** The baseUrl's origin may be a loopback or private address (a local vLLM, llama.cpp, Ollama); never a metadata address. */
    allowPrivate: z.boolean().optional(),
  })
  .strict();

const metricList = <T extends string>(names: readonly [T, ...T[]]) => z.object({ metrics: z.array(z.enum(names)).default([]) }).strict();

export const threadBoundMetricNames = ['execution-time', 'resource-usage', 'error-rate', 'timeout-count'] as const;
export const secretMetricNames = ['access-count', 'rotation-status', 'exposure-risk'] as const;

export const monitoringSchema = z
  .object({
    'thread-bound-agents': metricList(threadBoundMetricNames).optional(),
    secrets: metricList(secretMetricNames).optional(),
    baseline: z
      .object({
        enabled: z.boolean().default(true),
        sampleWindow: z.string().superRefine((v, ctx) => {
          const s = parseDurationSeconds(v);
          if (s === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a window such as "1-hour" or "15m", got ${JSON.stringify(v)}` });
          else if (s > 30 * D) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected at most 30d (${30 * D} s), got ${JSON.stringify(v)}` });
        }).default('1-hour'),
        alertThreshold: z
          .object({ statisticalDeviation: z.number().positive().default(3), anomalyScore: z.number().min(0).max(1).default(0.8) })
          .strict()
          .default({}),
      })
      .strict()
      .optional(),
    telemetry: z
      .object({
        enableDiagnostics: z.boolean().default(false),
        captureAllRequests: z.boolean().default(false),
        exportFormat: z.enum(['JSON-Lines', 'jsonl']).default('JSON-Lines'),
        /** File path, or "-" for stdout. Default: <state-dir>/telemetry.jsonl */
        output: z.string().optional(),
      })
      .strict()
      .optional(),
    metrics: z.object({ public: z.boolean().default(true) }).strict().optional(),
  })
  .strict();

export const zeroTrustSchema = z
  .object({
    enabled: z.boolean().default(false),
    enforcement: z.enum(['strict', 'permissive']).default('strict'),
    policies: z
      .object({
        agentCommunication: z
          .object({ requireAuthentication: z.boolean().default(true), encryptAllTraffic: z.boolean().default(false), signAllRequests: z.boolean().default(false) })
          .strict()
          .default({}),
        externalAPI: z
          .object({ validateAllRequests: z.boolean().default(true), rateLimit: z.boolean().default(false), auditLog: z.boolean().default(true) })
          .strict()
          .default({}),
        dataAccess: z
          .object({ principleOfLeastPrivilege: z.boolean().default(true), dynamicPermissions: z.boolean().default(false), sessionTokenRotation: z.boolean().default(false) })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    rateLimit: z.object({ requestsPerSecond: z.number().positive().default(20), burst: positiveInt('requests').default(40) }).strict().optional(),
    clockSkewSeconds: intSeconds(H).optional(),
    sessionTokenTtl: seconds(24 * H).optional(),
  })
  .strict();

export const gatewaySchema = z
  .object({
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    bodyLimitBytes: positiveInt('bytes').optional(),
    shutdownGraceSeconds: seconds(H).optional(),
    /** Open connections beyond this are refused (each holds a file descriptor). */
    maxConnections: positiveInt('connections', 1_000_000).optional(),
    /** A client must have sent its request headers within this long after connecting (slowloris). */
    headersTimeout: seconds(5 * 60).optional(),
    /** ...and the whole request (body included) within this long. */
    requestTimeout: seconds(H).optional(),
    /** An idle keep-alive connection is closed after this long. */
    keepAliveTimeout: seconds(10 * 60).optional(),
    tls: z.object({ cert: z.string().optional(), key: z.string().optional(), auto: z.boolean().optional() }).strict().optional(),
  })
  .strict();

export const rootSchema = z
  .object({
    $schema: z.string().optional(),
    gateway: gatewaySchema.optional(),
    agents: z.record(profileSchema).optional(),
    models: z.record(modelProviderSchema).optional(),
    secrets: z.record(secretSchema).optional(),
    monitoring: monitoringSchema.optional(),
    sandbox: sandboxSchema.optional(),
    security: z.object({ zeroTrust: zeroTrustSchema.optional() }).strict().optional(),
    audit: auditSchema.optional(),
    policy: z.object({ dir: z.string().optional() }).strict().optional(),
    runtime: z
      .object({
        warmPool: nonNegativeInt('warm instances').optional(),
        queueLimit: nonNegativeInt('queued runs').optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type RawConfig = z.infer<typeof rootSchema>;
export type RawProfile = z.infer<typeof profileSchema>;
export type RawSandbox = z.infer<typeof sandboxSchema>;
export type RawSecret = z.infer<typeof secretSchema>;
