/**
 * source "vault" (also "hashiCorp-vault"): HashiCorp Vault's KV version 2 engine over its HTTP API.
 * Settings: address (VAULT_ADDR), namespace (VAULT_NAMESPACE), mount (default "secret"), path
 * (default the secret's name), field (default "value"), auth {method: token (tokenEnv, default
 * VAULT_TOKEN) | approle (roleId or VAULT_ROLE_ID, secretIdEnv default VAULT_SECRET_ID)}.
 * With a generator, rotation writes a new version (check-and-set on the version read);
 * without one, the secret is re-read and Vault's version number tracked.
 */
import { request } from 'undici';
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { generateValue, type GeneratorSettings } from '../crypto.js';
import type { FetchedValue, RotationMode, SecretProvider } from '../types.js';

interface VaultAuth {
  method: 'token' | 'approle';
  tokenEnv?: string;
  roleId?: string;
  secretIdEnv?: string;
}

interface Conn {
  address: string;
  namespace?: string;
  mount: string;
  path: string;
  field: string;
  auth: VaultAuth;
  timeoutMs: number;
  who: string;
}

interface KvRead {
  data: Record<string, unknown>;
  version: number;
  createdAt?: number;
}

const enc = (p: string) => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');

export class VaultProvider implements SecretProvider {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  rotationMode(s: SecretConfig): RotationMode {
    return s.settings.generator ? 'vault-write' : 'reread';
  }

  private conn(s: SecretConfig): Conn {
    const who = `secrets.${s.name} (vault)`;
    const address = ((s.settings.address as string | undefined) ?? this.env.VAULT_ADDR ?? '').replace(/\/+$/, '');
    if (!address) throw new ClawguardError('secret_unavailable', `${who}: no Vault address (set secrets.${s.name}.address or VAULT_ADDR)`);
    const namespace = (s.settings.namespace as string | undefined) ?? this.env.VAULT_NAMESPACE;
    return {
      address,
      ...(namespace ? { namespace } : {}),
      mount: enc((s.settings.mount as string | undefined) ?? 'secret'),
      path: enc((s.settings.path as string | undefined) ?? s.name),
      field: (s.settings.field as string | undefined) ?? 'value',
      auth: (s.settings.auth as VaultAuth | undefined) ?? { method: 'token' },
      timeoutMs: (s.settings.timeoutMs as number | undefined) ?? 10_000,
      who,
    };
  }

  private async call(c: Conn, method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: any }> {
    let res;
    try {
      res = await request(`${c.address}/v1/${path}`, {
        method,
        headers: {
          ...(token ? { 'x-vault-token': token } : {}),
          ...(c.namespace ? { 'x-vault-namespace': c.namespace } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: c.timeoutMs,
        bodyTimeout: c.timeoutMs,
      });
    } catch (e) {
      throw new ClawguardError('secret_unavailable', `${c.who}: Vault at ${c.address} unreachable: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* Vault always answers JSON; anything else is reported by status below */
    }
    return { status: res.statusCode, json };
  }

  private fail(c: Conn, what: string, r: { status: number; json: any }): never {
    const errors = Array.isArray(r.json?.errors) ? (r.json.errors as unknown[]).map(String).filter(Boolean) : [];
    const detail = errors.length ? errors.join('; ') : r.status === 404 ? 'not found' : 'no error message';
    throw new ClawguardError('secret_unavailable', `${c.who}: ${what}: Vault answered ${r.status}: ${detail}`);
  }

  private async token(c: Conn, fresh = false): Promise<string> {
    if (c.auth.method === 'token') {
      const name = c.auth.tokenEnv ?? 'VAULT_TOKEN';
      const t = this.env[name];
      if (!t) throw new ClawguardError('secret_unavailable', `${c.who}: no Vault token (environment variable ${name} is not set)`);
      return t;
    }
    const roleId = c.auth.roleId ?? this.env.VAULT_ROLE_ID;
    const secretIdName = c.auth.secretIdEnv ?? 'VAULT_SECRET_ID';
    const secretId = this.env[secretIdName];
    if (!roleId || !secretId) throw new ClawguardError('secret_unavailable', `${c.who}: AppRole login needs auth.roleId (or VAULT_ROLE_ID) and ${secretIdName}`);
    const key = `${c.address}|${c.namespace ?? ''}|${roleId}`;
    const cached = this.tokens.get(key);
    if (cached && !fresh && cached.expiresAt > Date.now()) return cached.token;
    const r = await this.call(c, 'POST', 'auth/approle/login', undefined, { role_id: roleId, secret_id: secretId });
    if (r.status !== 200 || typeof r.json?.auth?.client_token !== 'string') this.fail(c, 'AppRole login', r);
    const lease = Number(r.json.auth.lease_duration) || 300;
    this.tokens.set(key, { token: r.json.auth.client_token, expiresAt: Date.now() + lease * 900 });
    return r.json.auth.client_token as string;
  }

  /** A call with the current token; with AppRole a 403 logs in again once (the token may have expired). */
  private async authed(c: Conn, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
    let r = await this.call(c, method, path, await this.token(c), body);
    if (r.status === 403 && c.auth.method === 'approle') r = await this.call(c, method, path, await this.token(c, true), body);
    return r;
  }

  private async read(c: Conn): Promise<KvRead | undefined> {
    const r = await this.authed(c, 'GET', `${c.mount}/data/${c.path}`);
    // 404 with an empty error list: nothing at that path; with errors: something else (no such mount…).
    if (r.status === 404 && !r.json?.data && !(Array.isArray(r.json?.errors) && r.json.errors.length)) return undefined;
    if (r.status !== 200) this.fail(c, `read ${c.mount}/data/${c.path}`, r);
    const d = r.json?.data;
    const meta = d?.metadata ?? {};
    if (!d?.data || typeof d.data !== 'object') {
      throw new ClawguardError('secret_unavailable', `${c.who}: version ${meta.version ?? '?'} of ${c.path} is ${meta.destroyed ? 'destroyed' : 'deleted'}`);
    }
    const created = typeof meta.created_time === 'string' ? Date.parse(meta.created_time) : NaN;
    return { data: d.data as Record<string, unknown>, version: Number(meta.version), ...(Number.isFinite(created) ? { createdAt: created } : {}) };
  }

  async fetch(s: SecretConfig): Promise<FetchedValue> {
    const c = this.conn(s);
    const kv = await this.read(c);
    if (!kv) throw new ClawguardError('secret_unavailable', `${c.who}: no secret at ${c.mount}/data/${c.path}`);
    const v = kv.data[c.field];
    if (v === undefined) throw new ClawguardError('secret_unavailable', `${c.who}: ${c.path} has no field "${c.field}" (fields: ${Object.keys(kv.data).join(', ') || 'none'})`);
    if (typeof v !== 'string' || v === '') throw new ClawguardError('secret_unavailable', `${c.who}: field "${c.field}" of ${c.path} is not a non-empty string`);
    return { value: v, version: String(kv.version), ...(kv.createdAt !== undefined ? { createdAt: kv.createdAt } : {}) };
  }

  /** Writes a new version with a generated value in `field`, keeping the other fields, check-and-set on the version read. */
  async rotate(s: SecretConfig): Promise<FetchedValue> {
    const c = this.conn(s);
    const kv = await this.read(c);
    const value = generateValue(s.settings.generator as GeneratorSettings | undefined);
    const r = await this.authed(c, 'POST', `${c.mount}/data/${c.path}`, { options: { cas: kv?.version ?? 0 }, data: { ...(kv?.data ?? {}), [c.field]: value } });
    if (r.status !== 200) this.fail(c, `write ${c.mount}/data/${c.path}`, r);
    const created = typeof r.json?.data?.created_time === 'string' ? Date.parse(r.json.data.created_time) : NaN;
    return { value, version: String(r.json?.data?.version), ...(Number.isFinite(created) ? { createdAt: created } : {}) };
  }
}
