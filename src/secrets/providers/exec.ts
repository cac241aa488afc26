/**
 * source "exec": asks a resolver program (1Password's op, sops, pass, a script…) over OpenClaw's
 * exec protocol v1. No shell, absolute path, timeout, output cap, and only the environment
 * variables named in passEnv (plus PATH) reach it.
 */
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { buildRequest, EXEC_ID, valueFromResponse } from '../exec-protocol.js';
import { runResolver } from '../exec-runner.js';
import type { FetchedValue, RotationMode, SecretProvider } from '../types.js';

export class ExecProvider implements SecretProvider {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  rotationMode(): RotationMode {
    return 'reread';
  }

  async fetch(s: SecretConfig): Promise<FetchedValue> {
    const who = `secrets.${s.name} (exec)`;
    const command = s.settings.command;
    if (typeof command !== 'string' || !command) throw new ClawguardError('secret_unavailable', `${who}: command is not set`);
    const id = typeof s.settings.id === 'string' && s.settings.id ? s.settings.id : s.name;
    if (!EXEC_ID.test(id)) throw new ClawguardError('secret_unavailable', `${who}: id ${JSON.stringify(id)} is not a valid exec id`);
    const env: Record<string, string> = { PATH: this.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
    for (const k of (s.settings.passEnv as string[] | undefined) ?? []) if (this.env[k] !== undefined) env[k] = this.env[k]!;
    const stdout = await runResolver({
      command,
      args: (s.settings.args as string[] | undefined) ?? [],
      input: buildRequest(s.name, [id]),
      timeoutMs: (s.settings.timeoutMs as number | undefined) ?? 10_000,
      maxOutputBytes: (s.settings.maxOutputBytes as number | undefined) ?? 1024 * 1024,
      env,
      who,
    });
    return { value: valueFromResponse(stdout, id, who) };
  }
}
