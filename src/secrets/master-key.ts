/**
 * The master key that seals locally stored values. In order of precedence:
 * 1. CLAWGUARD_MASTER_KEY (32 bytes as base64, base64url or hex);
 * 2. <state-dir>/secrets-master.key.kms: a KMS data key, stored wrapped, unwrapped with KMS Decrypt at start;
 * 3. <state-dir>/secrets-master.key: 32 random bytes, mode 0600.
 * A new key is created on first use: KMS-wrapped when a secret with source aws-kms sets wrapMasterKey.
 */
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ClawguardError } from '../errors/index.js';
import type { AwsClientSettings } from './providers/aws-common.js';
import { decryptDataKey, generateDataKey } from './providers/kms-client.js';

export interface MasterKeyOptions {
  stateDir: string;
  env: NodeJS.ProcessEnv;
  kmsWrap?: { keyId: string; aws: AwsClientSettings };
}

const CONTEXT = { purpose: 'clawguard-secrets-master-key' };

export function masterKeyPaths(stateDir: string): { plain: string; wrapped: string } {
  return { plain: join(stateDir, 'secrets-master.key'), wrapped: join(stateDir, 'secrets-master.key.kms') };
}

export function parseKeyMaterial(s: string, where: string): Buffer {
  const t = s.trim();
  const candidates = [/^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : undefined, Buffer.from(t, 'base64'), Buffer.from(t, 'base64url')];
  const key = candidates.find((b) => b && b.length === 32);
  if (!key) throw new ClawguardError('secret_unavailable', `${where}: expected 32 bytes as base64 or 64 hex digits`);
  return key;
}

/** Writes `data` only if `path` does not exist yet (two processes may race to create the key). */
function createExclusive(path: string, data: string): boolean {
  try {
    writeFileSync(path, data, { mode: 0o600, flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

export class MasterKey {
  private key: Promise<Buffer> | undefined;
  private failure: string | undefined;
  private src: 'env' | 'kms' | 'file' | 'none' = 'none';

  constructor(private readonly o: MasterKeyOptions) {}

  /** The key (memoized); a failure is remembered as the reason, and retried on the next call. */
  get(): Promise<Buffer> {
    this.key ??= this.load().then(
      (k) => {
        this.failure = undefined;
        return k;
      },
      (e: unknown) => {
        this.key = undefined;
        this.failure = (e as Error).message;
        throw e instanceof ClawguardError ? e : new ClawguardError('secret_unavailable', `master key: ${(e as Error).message}`);
      },
    );
    return this.key;
  }

  describe(): { source: string; available: boolean; reason?: string } {
    return { source: this.src, available: this.failure === undefined && this.src !== 'none', ...(this.failure ? { reason: this.failure } : {}) };
  }

  private async load(): Promise<Buffer> {
    const { env, stateDir, kmsWrap } = this.o;
    if (env.CLAWGUARD_MASTER_KEY) {
      this.src = 'env';
      return parseKeyMaterial(env.CLAWGUARD_MASTER_KEY, 'CLAWGUARD_MASTER_KEY');
    }
    const p = masterKeyPaths(stateDir);
    if (existsSync(p.wrapped)) return this.unwrap(p.wrapped);
    if (existsSync(p.plain)) return this.readPlain(p.plain);
    if (kmsWrap) {
      this.src = 'kms';
      const dk = await generateDataKey(kmsWrap.aws, kmsWrap.keyId, CONTEXT);
      const doc = JSON.stringify({ keyId: dk.keyId, wrapped: dk.wrapped.toString('base64'), region: kmsWrap.aws.region ?? null, endpoint: kmsWrap.aws.endpoint ?? null });
      if (createExclusive(p.wrapped, `${doc}\n`)) return dk.plaintext;
      return this.unwrap(p.wrapped);
    }
    if (createExclusive(p.plain, `${randomBytes(32).toString('base64')}\n`)) chmodSync(p.plain, 0o600);
    return this.readPlain(p.plain);
  }

  private readPlain(path: string): Buffer {
    this.src = 'file';
    // Like every secret file in the state dir: owner-only, tightened if something loosened it.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return parseKeyMaterial(readFileSync(path, 'utf8'), path);
  }

  private async unwrap(path: string): Promise<Buffer> {
    this.src = 'kms';
    let doc: { keyId?: string; wrapped?: string; region?: string | null; endpoint?: string | null };
    try {
      doc = JSON.parse(readFileSync(path, 'utf8')) as typeof doc;
    } catch (e) {
      throw new ClawguardError('secret_unavailable', `${path}: not valid JSON (${(e as Error).message})`);
    }
    if (!doc.keyId || !doc.wrapped) throw new ClawguardError('secret_unavailable', `${path}: expected {keyId, wrapped}`);
    const aws = this.o.kmsWrap?.aws ?? { ...(doc.region ? { region: doc.region } : {}), ...(doc.endpoint ? { endpoint: doc.endpoint } : {}) };
    const key = await decryptDataKey(aws, doc.keyId, Buffer.from(doc.wrapped, 'base64'), CONTEXT);
    if (key.length !== 32) throw new ClawguardError('secret_unavailable', `${path}: KMS returned a ${key.length}-byte key, expected 32`);
    return key;
  }
}
