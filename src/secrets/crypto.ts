/** AES-256-GCM sealing of stored values, key derivation from the master key, and value generation. */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ClawguardError } from '../errors/index.js';

export interface Sealed {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** Purpose-bound subkeys of the master key (HKDF-SHA256), so one key never serves two jobs. */
export function deriveKey(master: Buffer, purpose: 'values' | 'fingerprint'): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `clawguard secrets ${purpose} v1`, 32));
}

/** The additional authenticated data binds a ciphertext to its secret and version: rows cannot be swapped. */
function aad(name: string, version: number): Buffer {
  return Buffer.from(`clawguard:secret:${name}:${version}`, 'utf8');
}

export function seal(key: Buffer, name: string, version: number, plaintext: string): Sealed {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(name, version));
  const ciphertext = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return { iv, tag: c.getAuthTag(), ciphertext };
}

export function open(key: Buffer, name: string, version: number, s: Sealed): string {
  try {
    const d = createDecipheriv('aes-256-gcm', key, s.iv);
    d.setAAD(aad(name, version));
    d.setAuthTag(s.tag);
    return Buffer.concat([d.update(s.ciphertext), d.final()]).toString('utf8');
  } catch {
    throw new ClawguardError('secret_unavailable', `stored value of "${name}" (version ${version}) cannot be decrypted: wrong master key or tampered store`);
  }
}

/** A keyed fingerprint: lets the broker notice a changed value without storing anything guessable. */
export function fingerprint(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('base64url').slice(0, 32);
}

export interface GeneratorSettings {
  length?: number;
  prefix?: string;
}

/** A fresh random value: `prefix` + `length` random bytes (default 32) in base64url. */
export function generateValue(g: GeneratorSettings | undefined): string {
  return (g?.prefix ?? '') + randomBytes(g?.length ?? 32).toString('base64url');
}
