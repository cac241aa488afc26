/** Types shared by the broker, its providers and its callers. Values never appear in any of them except FetchedValue. */
import type { SecretConfig, SecretSource } from '../config/index.js';
import type { Principal } from '../pipeline/index.js';

/** What a provider returns for a read. The only type that carries a plaintext value. */
export interface FetchedValue {
  value: string;
  /** The source's own version identifier (Vault version, AWS VersionId, local version number), if it has one. */
  version?: string;
  /** When the source says this version was created (ms since the epoch), if it says. */
  createdAt?: number;
}

/** How a secret rotates, decided by its source and settings. */
export type RotationMode =
  | 'generate' // local: a new random value, dual-phase with grace
  | 'vault-write' // Vault KV v2: a new version written from the generator
  | 'aws-rotate' // AWS Secrets Manager RotateSecret
  | 'kms-data-key' // AWS KMS: a new data key (GenerateDataKey), the previous one kept through the grace period
  | 'manual' // local without a generator: `clawguard secrets set` makes the new version
  | 'reread'; // env, file, exec, read-only Vault: re-read, version and age tracked

export interface SecretProvider {
  /** Reads the current value; throws ClawguardError('secret_unavailable') saying why. */
  fetch(s: SecretConfig): Promise<FetchedValue>;
  rotationMode(s: SecretConfig): RotationMode;
  /** Makes a new version (modes generate, vault-write, aws-rotate, kms-data-key) and returns it. */
  rotate?(s: SecretConfig): Promise<FetchedValue>;
  /** Previous values still inside their grace period (dual-phase), for redaction and `accepts`. */
  graceValues?(s: SecretConfig, now: number): Promise<Array<{ value: string; version: string; graceUntil: number }>>;
  /** Ends the grace of previous versions whose time is up; returns how many were revoked. */
  revokeExpired?(s: SecretConfig, now: number): number;
  /** Stores an operator-supplied value (local only). */
  set?(s: SecretConfig, value: string): Promise<FetchedValue>;
}

export type ProviderSet = Partial<Record<SecretSource, SecretProvider>>;

export interface AuthorizeResult {
  effect: 'allow' | 'deny';
  reasons: string[];
}

/**
 * The policy decision for one use of a secret; the gateway wires it to the PDP (action secret.use).
 * `destination` is where the value goes (absent for the exec resolver, which has none to bind):
 * the decision checks it against allowedHosts too, so no tier grants what the broker would refuse.
 */
export type Authorize = (principal: Principal, secretName: string, host: string, destination?: URL) => Promise<AuthorizeResult>;

export type SecretHealth = 'ok' | 'unavailable' | 'unknown';

/** Metadata of one secret, as status and APIs show it. Never a value. */
export interface SecretStatus {
  name: string;
  source: string;
  sourceSpelling: string;
  provider: 'external' | 'local';
  health: SecretHealth;
  reason: string | null;
  version: string | null;
  rotation: string | null;
  rotationMode: RotationMode;
  lastRotation: string | null;
  nextRotation: string | null;
  overdue: boolean;
  ageSeconds: number | null;
  lastRotationError: string | null;
  graceVersions: number;
  uses24h: number;
  denials24h: number;
  grants: string[];
  allowedHosts: string[];
  exposures: number;
  lastExposure: string | null;
  cacheTtlSeconds: number;
  gracePeriodSeconds: number;
}

export interface SecretsStatus {
  secrets: SecretStatus[];
  masterKey: { source: string; available: boolean; reason?: string };
  redaction: { patterns: number; secretsKnown: number };
}

export interface RotationResult {
  secret: string;
  mode: RotationMode;
  changed: boolean;
  version: string | null;
  previousVersion: string | null;
  graceUntil: string | null;
  rotatedAt: string;
}
