/**
 * source "local": values sealed with AES-256-GCM in the gateway's store under the master key.
 * With a generator the broker makes and rotates values itself (dual-phase: the previous value
 * stays valid through the grace period, then its row is deleted); without one, a new version
 * comes from `clawguard secrets set NAME`.
 */
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import type { Clock } from '../clock.js';
import { deriveKey, generateValue, type GeneratorSettings, open, seal } from '../crypto.js';
import type { MasterKey } from '../master-key.js';
import type { SecretStore, ValueRow } from '../store.js';
import type { FetchedValue, RotationMode, SecretProvider } from '../types.js';

export class LocalProvider implements SecretProvider {
  constructor(
    private readonly store: SecretStore,
    private readonly master: MasterKey,
    private readonly clock: Clock,
  ) {}

  rotationMode(s: SecretConfig): RotationMode {
    return s.settings.generator ? 'generate' : 'manual';
  }

  private async key(): Promise<Buffer> {
    return deriveKey(await this.master.get(), 'values');
  }

  private async openRow(row: ValueRow): Promise<string> {
    return open(await this.key(), row.name, row.version, { iv: row.iv!, tag: row.tag!, ciphertext: row.ciphertext });
  }

  async fetch(s: SecretConfig): Promise<FetchedValue> {
    const row = this.store.current(s.name);
    if (!row) {
      if (s.settings.generator) return this.rotate(s);
      throw new ClawguardError('secret_unavailable', `no value stored for local secret "${s.name}" (set one with: clawguard secrets set ${s.name} < value-file)`);
    }
    if (row.enc !== 'aes-gcm') throw new ClawguardError('secret_unavailable', `stored value of "${s.name}" is not a local value (enc ${row.enc}); the secret's source changed`);
    return { value: await this.openRow(row), version: String(row.version), createdAt: row.created_at };
  }

  async rotate(s: SecretConfig): Promise<FetchedValue> {
    return this.write(s, generateValue(s.settings.generator as GeneratorSettings | undefined), true);
  }

  async set(s: SecretConfig, value: string): Promise<FetchedValue> {
    if (value.length === 0) throw new ClawguardError('bad_request', `secrets set ${s.name}: the value is empty`);
    return this.write(s, value, false);
  }

  private async write(s: SecretConfig, value: string, generated: boolean): Promise<FetchedValue> {
    const key = await this.key();
    const now = this.clock.now();
    const version = this.store.nextVersion(s.name);
    const sealed = seal(key, s.name, version, value);
    this.store.addVersion({ name: s.name, version, enc: 'aes-gcm', iv: sealed.iv, tag: sealed.tag, ciphertext: sealed.ciphertext, created_at: now, generated: generated ? 1 : 0 }, now + s.gracePeriodSeconds * 1000);
    return { value, version: String(version), createdAt: now };
  }

  async graceValues(s: SecretConfig, now: number): Promise<Array<{ value: string; version: string; graceUntil: number }>> {
    const out = [];
    for (const r of this.store.previous(s.name)) {
      if (r.enc !== 'aes-gcm' || (r.grace_until ?? 0) <= now) continue;
      out.push({ value: await this.openRow(r), version: String(r.version), graceUntil: r.grace_until! });
    }
    return out;
  }

  revokeExpired(s: SecretConfig, now: number): number {
    return this.store.revokeExpired(s.name, now);
  }
}
