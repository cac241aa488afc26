/**
 * source "aws-kms": envelope-encryption data keys. The value is a 256-bit data key from
 * GenerateDataKey (base64); only its KMS-wrapped form is stored, and it is unwrapped with
 * Decrypt when needed. Rotation makes a new data key; the previous one stays usable through the
 * grace period (data sealed with it can still be opened), then its wrapped copy is deleted.
 */
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import type { Clock } from '../clock.js';
import type { SecretStore, ValueRow } from '../store.js';
import type { FetchedValue, RotationMode, SecretProvider } from '../types.js';
import { awsSettings } from './aws-common.js';
import { decryptDataKey, generateDataKey } from './kms-client.js';

export class AwsKmsProvider implements SecretProvider {
  constructor(
    private readonly store: SecretStore,
    private readonly clock: Clock,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  rotationMode(): RotationMode {
    return 'kms-data-key';
  }

  private keyId(s: SecretConfig): string {
    const k = s.settings.keyId;
    if (typeof k !== 'string' || !k) throw new ClawguardError('secret_unavailable', `secrets.${s.name}.keyId is not set (the KMS key id, ARN or alias to generate data keys under)`);
    return k;
  }

  private async unwrap(s: SecretConfig, row: ValueRow): Promise<string> {
    const key = await decryptDataKey(awsSettings(s.settings, this.env), this.keyId(s), row.ciphertext, { clawguard_secret: s.name });
    return key.toString('base64');
  }

  async fetch(s: SecretConfig): Promise<FetchedValue> {
    const row = this.store.current(s.name);
    if (!row) return this.rotate(s);
    if (row.enc !== 'kms') throw new ClawguardError('secret_unavailable', `stored value of "${s.name}" is not a KMS data key (enc ${row.enc}); the secret's source changed`);
    return { value: await this.unwrap(s, row), version: String(row.version), createdAt: row.created_at };
  }

  async rotate(s: SecretConfig): Promise<FetchedValue> {
    const dk = await generateDataKey(awsSettings(s.settings, this.env), this.keyId(s), { clawguard_secret: s.name });
    const now = this.clock.now();
    const version = this.store.nextVersion(s.name);
    this.store.addVersion({ name: s.name, version, enc: 'kms', iv: null, tag: null, ciphertext: dk.wrapped, created_at: now, generated: 1 }, now + s.gracePeriodSeconds * 1000);
    return { value: dk.plaintext.toString('base64'), version: String(version), createdAt: now };
  }

  async graceValues(s: SecretConfig, now: number): Promise<Array<{ value: string; version: string; graceUntil: number }>> {
    const out = [];
    for (const r of this.store.previous(s.name)) {
      if (r.enc !== 'kms' || (r.grace_until ?? 0) <= now) continue;
      out.push({ value: await this.unwrap(s, r), version: String(r.version), graceUntil: r.grace_until! });
    }
    return out;
  }

  revokeExpired(s: SecretConfig, now: number): number {
    return this.store.revokeExpired(s.name, now);
  }
}
