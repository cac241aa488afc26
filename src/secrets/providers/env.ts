/** source "env": the value of an environment variable of the gateway process (read-only; re-read, version and age tracked). */
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import type { FetchedValue, RotationMode, SecretProvider } from '../types.js';

/** `env` setting, else the secret's name in upper case with - and . as _ ("openai-key" → OPENAI_KEY). */
export function envVarName(s: SecretConfig): string {
  return typeof s.settings.env === 'string' && s.settings.env ? s.settings.env : s.name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export class EnvProvider implements SecretProvider {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  rotationMode(): RotationMode {
    return 'reread';
  }

  async fetch(s: SecretConfig): Promise<FetchedValue> {
    const name = envVarName(s);
    const v = this.env[name];
    if (v === undefined || v === '') throw new ClawguardError('secret_unavailable', `environment variable ${name} (secrets.${s.name}) is not set`);
    return { value: v };
  }
}
