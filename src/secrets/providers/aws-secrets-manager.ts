/**
 * source "aws-secrets-manager" (also "secrets-manager"): AWS Secrets Manager through the AWS SDK v3.
 * Settings: secretId (default the secret's name), versionStage (default AWSCURRENT), field (a key
 * of a JSON SecretString), region, endpoint, timeoutMs. Rotation calls RotateSecret (the secret's
 * rotation function makes the new version) and re-reads the stage.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import type { FetchedValue, RotationMode, SecretProvider } from '../types.js';
import { type AwsClientSettings, awsError, awsSettings, cacheKey, clientConfig, loadSdk } from './aws-common.js';

/** The SDK is loaded on first use: gateways without AWS secrets never pay for it. */
const sdk = () => loadSdk(() => import('@aws-sdk/client-secrets-manager'));

export class AwsSecretsManagerProvider implements SecretProvider {
  private readonly clients = new Map<string, SecretsManagerClient>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  rotationMode(): RotationMode {
    return 'aws-rotate';
  }

  private async client(s: AwsClientSettings): Promise<SecretsManagerClient> {
    const k = cacheKey(s);
    let c = this.clients.get(k);
    if (!c) {
      c = new (await sdk()).SecretsManagerClient(clientConfig(s));
      this.clients.set(k, c);
    }
    return c;
  }

  private secretId(s: SecretConfig): string {
    return typeof s.settings.secretId === 'string' && s.settings.secretId ? s.settings.secretId : s.name;
  }

  async fetch(s: SecretConfig): Promise<FetchedValue> {
    const id = this.secretId(s);
    const stage = (s.settings.versionStage as string | undefined) ?? 'AWSCURRENT';
    let r;
    try {
      const { GetSecretValueCommand } = await sdk();
      r = await (await this.client(awsSettings(s.settings, this.env))).send(new GetSecretValueCommand({ SecretId: id, VersionStage: stage }));
    } catch (e) {
      throw awsError('AWS Secrets Manager', `GetSecretValue ${id} (${stage})`, e);
    }
    let value = r.SecretString ?? (r.SecretBinary ? Buffer.from(r.SecretBinary).toString('base64') : undefined);
    if (value === undefined) throw new ClawguardError('secret_unavailable', `AWS Secrets Manager: ${id} (${stage}) has neither SecretString nor SecretBinary`);
    const field = s.settings.field;
    if (typeof field === 'string') {
      let doc: unknown;
      try {
        doc = JSON.parse(value);
      } catch {
        throw new ClawguardError('secret_unavailable', `AWS Secrets Manager: ${id} is not a JSON SecretString, so field "${field}" cannot be read`);
      }
      const v = doc && typeof doc === 'object' ? (doc as Record<string, unknown>)[field] : undefined;
      if (typeof v !== 'string') throw new ClawguardError('secret_unavailable', `AWS Secrets Manager: ${id} has no string field "${field}"`);
      value = v;
    }
    if (value === '') throw new ClawguardError('secret_unavailable', `AWS Secrets Manager: ${id} (${stage}) is empty`);
    return { value, ...(r.VersionId ? { version: r.VersionId } : {}), ...(r.CreatedDate ? { createdAt: r.CreatedDate.getTime() } : {}) };
  }

  async rotate(s: SecretConfig): Promise<FetchedValue> {
    const id = this.secretId(s);
    try {
      const { RotateSecretCommand } = await sdk();
      await (await this.client(awsSettings(s.settings, this.env))).send(new RotateSecretCommand({ SecretId: id, RotateImmediately: true }));
    } catch (e) {
      throw awsError('AWS Secrets Manager', `RotateSecret ${id}`, e);
    }
    return this.fetch(s);
  }
}
