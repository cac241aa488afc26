/** The validated, normalized configuration. Code below the config module reads only these types. */
import type { AuditConfig } from './audit-schema.js';
import type { RotationSchedule } from './durations.js';

export type IsolationLevel = 'thread' | 'process';
export type TrustLevel = 'trusted' | 'limited' | 'restricted';

export interface ToolRule {
  tool: string;
  paths?: string[];
  hosts?: string[];
  commands?: string[];
  /** Argument patterns on argv[1..] (exec.run). */
  argv?: string[][];
}

export interface SandboxConfig {
  mode: 'strict' | 'standard' | 'off';
  isolationLevel?: 'process-level' | 'thread-level';
  allowedPaths: string[];
  blockedPaths: string[];
  allowedDomains: string[];
  blockedDomains: string[];
  allowPrivate: string[];
  exec: {
    envAllow: string[];
    /** Names agents may set in exec.run's env. */
    agentEnv: string[];
    timeoutMs: number;
    maxOutputBytes: number;
    cpuSeconds: number;
    addressSpaceMb: number;
    processes: number;
    fileSizeMb: number;
  };
}

export interface ProfileConfig {
  name: string;
  runtime: 'thread-bound' | 'session';
  model?: string;
  autoDestroy: boolean;
  timeoutSeconds: number;
  maxConcurrent: number;
  queueLimit: number;
  warmPool: number;
  deterministic: boolean;
  /** Absolute path of the agent module; undefined = built-in tool-calling loop. */
  entry?: string;
  isolation: IsolationLevel;
  memoryMb: number;
  maxSteps: number;
  maxOutputBytes: number;
  /** ctx.log budget per run: lines, and bytes of message plus fields; past either the rest is dropped. */
  maxLogLines: number;
  maxLogBytes: number;
  sensitive: boolean;
  trustLevel: TrustLevel;
  capabilities: string[];
  session: { idleSeconds: number; maxAgeSeconds: number };
  tools: { allow: ToolRule[]; deny: ToolRule[] };
  sandbox: SandboxConfig;
  /** Working directory for fs tools and exec; default: first allowed path. */
  workspace?: string;
}

export interface ModelProviderConfig {
  name: string;
  type: 'openai-compatible' | 'anthropic';
  baseUrl: string;
  apiKeyEnv?: string;
  apiKeySecret?: string;
  timeoutMs: number;
  headers: Record<string, string>;
  /** The baseUrl's origin may resolve to loopback/private addresses (this provider's calls only). */
  allowPrivate?: boolean;
}

export type SecretSource = 'local' | 'env' | 'file' | 'exec' | 'vault' | 'aws-secrets-manager' | 'aws-kms';

export interface SecretConfig {
  name: string;
  provider: 'external' | 'local';
  /** Canonical source; `sourceSpelling` keeps what the config said (e.g. "hashiCorp-vault"). */
  source: SecretSource;
  sourceSpelling: string;
  rotation?: RotationSchedule;
  agents: string[];
  allowedHosts: string[];
  gracePeriodSeconds: number;
  cacheTtlSeconds: number;
  /** Provider connection settings, validated by the schema, interpreted by the provider. */
  settings: Record<string, unknown>;
}

export interface MonitoringConfig {
  threadBoundMetrics: string[];
  secretMetrics: string[];
  baseline?: { enabled: boolean; sampleWindowSeconds: number; statisticalDeviation: number; anomalyScore: number };
  telemetry?: { enableDiagnostics: boolean; captureAllRequests: boolean; exportFormat: 'JSON-Lines'; output?: string };
  metricsPublic: boolean;
}

export interface ZeroTrustConfig {
  enabled: boolean;
  enforcement: 'strict' | 'permissive';
  requireAuthentication: boolean;
  encryptAllTraffic: boolean;
  signAllRequests: boolean;
  validateAllRequests: boolean;
  rateLimit: boolean;
  auditLog: boolean;
  principleOfLeastPrivilege: boolean;
  dynamicPermissions: boolean;
  sessionTokenRotation: boolean;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  clockSkewSeconds: number;
  sessionTokenTtlSeconds: number;
}

export interface GatewayConfig {
  host: string;
  port: number;
  bodyLimitBytes: number;
  shutdownGraceSeconds: number;
  /** Open connections beyond this are refused. */
  maxConnections: number;
  /** Time a client has to send its request headers, then the whole request. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  tls?: { cert?: string; key?: string; auto: boolean };
}

export interface ClawguardConfig {
  /** Where the config came from (undefined = embedded defaults). */
  source?: string;
  /** Whether the file wrapped everything in "openclaw": {...}. */
  openclawWrapped: boolean;
  gateway: GatewayConfig;
  agents: Record<string, ProfileConfig>;
  models: Record<string, ModelProviderConfig>;
  secrets: Record<string, SecretConfig>;
  monitoring: MonitoringConfig;
  sandbox: SandboxConfig;
  zeroTrust: ZeroTrustConfig;
  audit: AuditConfig;
  policy: { dir?: string };
}
