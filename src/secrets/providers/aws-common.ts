/**
 * AWS SDK v3 client settings shared by Secrets Manager and KMS: region, an optional endpoint
 * override (tests, VPC endpoints, LocalStack), timeouts; credentials come from the SDK's
 * standard chain (environment, shared config/SSO, web identity, container/instance metadata).
 */
import { ClawguardError } from '../../errors/index.js';

export interface AwsClientSettings {
  region?: string;
  endpoint?: string;
  timeoutMs?: number;
}

/**
 * Loads an SDK client package. The SDK warns on stderr that its releases after January 2027 will
 * need Node 22; clawguard supports Node 20, so the warning is switched off (unless set explicitly).
 */
export function loadSdk<T>(load: () => Promise<T>): Promise<T> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return load();
}

export function awsSettings(settings: Record<string, unknown>, env: NodeJS.ProcessEnv): AwsClientSettings {
  const region = (settings.region as string | undefined) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    ...(region ? { region } : {}),
    ...(typeof settings.endpoint === 'string' ? { endpoint: settings.endpoint } : {}),
    ...(typeof settings.timeoutMs === 'number' ? { timeoutMs: settings.timeoutMs } : {}),
  };
}

export function clientConfig(s: AwsClientSettings): Record<string, unknown> {
  const t = s.timeoutMs ?? 10_000;
  return {
    ...(s.region ? { region: s.region } : {}),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: Math.min(t, 5000), requestTimeout: t },
  };
}

export function cacheKey(s: AwsClientSettings): string {
  return `${s.region ?? ''}|${s.endpoint ?? ''}|${s.timeoutMs ?? ''}`;
}

/** An SDK failure as a fail-closed error that says what AWS said (AWS error messages carry no secret values). */
export function awsError(service: string, what: string, e: unknown): ClawguardError {
  if (e instanceof ClawguardError) return e;
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const msg = err.message ?? String(e);
  const hint = /region is missing/i.test(msg) ? ' (set the secret\'s "region", or AWS_REGION)' : /could not load credentials/i.test(msg) ? ' (AWS credentials come from the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, web identity, or instance/container metadata)' : '';
  return new ClawguardError('secret_unavailable', `${service} ${what}: ${err.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${msg}${hint}`);
}
