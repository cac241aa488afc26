/** Ed25519 keys: generation, import from PEM / JWK / raw, export, RFC 7638 thumbprint. */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ClawguardError } from '../errors/index.js';

export type KeyInput = string | Buffer | KeyObject | JsonWebKey;

function isKeyObject(k: unknown): k is KeyObject {
  return typeof k === 'object' && k !== null && typeof (k as KeyObject).asymmetricKeyType === 'string' && typeof (k as KeyObject).export === 'function';
}

function asEd25519(k: KeyObject, what: string): KeyObject {
  if (k.asymmetricKeyType !== 'ed25519') throw new ClawguardError('bad_request', `${what} is a ${k.asymmetricKeyType ?? k.type} key; an Ed25519 key is required`);
  return k;
}

function parseJsonKey(text: string): JsonWebKey | undefined {
  const t = text.trim();
  if (!t.startsWith('{')) return undefined;
  try {
    return JSON.parse(t) as JsonWebKey;
  } catch {
    return undefined;
  }
}

/** A public key from SPKI PEM, a JWK (object or JSON text), 32 raw bytes (base64/base64url/hex), or a private key. */
export function importPublicKey(input: KeyInput, what = 'the public key'): KeyObject {
  try {
    if (isKeyObject(input)) return asEd25519(input.type === 'private' ? createPublicKey(input) : input, what);
    if (typeof input === 'object' && !Buffer.isBuffer(input)) return asEd25519(createPublicKey({ key: { kty: input.kty, crv: input.crv, x: input.x } as JsonWebKey, format: 'jwk' }), what);
    const text = Buffer.isBuffer(input) ? input.toString('utf8') : input;
    const jwk = parseJsonKey(text);
    if (jwk) return importPublicKey(jwk, what);
    if (text.includes('-----BEGIN')) return asEd25519(createPublicKey(text), what);
    const t = text.trim();
    const raw = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64url');
    if (raw.length === 32) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch (e) {
    if (e instanceof ClawguardError) throw e;
    throw new ClawguardError('bad_request', `${what} cannot be read: ${(e as Error).message}`);
  }
  throw new ClawguardError('bad_request', `${what} is not an Ed25519 public key (expected SPKI PEM, a JWK, or 32 raw bytes in base64/hex)`);
}

/** A private key from PKCS#8 PEM, a JWK with "d", or a KeyObject. */
export function importPrivateKey(input: KeyInput, what = 'the private key'): KeyObject {
  try {
    if (isKeyObject(input)) {
      if (input.type !== 'private') throw new ClawguardError('bad_request', `${what} is a public key; the private key is needed to sign`);
      return asEd25519(input, what);
    }
    if (typeof input === 'object' && !Buffer.isBuffer(input)) return asEd25519(createPrivateKey({ key: input, format: 'jwk' }), what);
    const text = Buffer.isBuffer(input) ? input.toString('utf8') : input;
    const jwk = parseJsonKey(text);
    if (jwk) return importPrivateKey(jwk, what);
    return asEd25519(createPrivateKey(text), what);
  } catch (e) {
    if (e instanceof ClawguardError) throw e;
    throw new ClawguardError('bad_request', `${what} cannot be read (expected an Ed25519 PKCS#8 PEM or a JWK with "d"): ${(e as Error).message}`);
  }
}

export function generateEd25519(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

export function publicKeyPem(k: KeyObject): string {
  return (k.type === 'private' ? createPublicKey(k) : k).export({ type: 'spki', format: 'pem' }).toString();
}

export function privateKeyPem(k: KeyObject): string {
  return k.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key. */
export function keyThumbprint(k: KeyObject): string {
  const pub = k.type === 'private' ? createPublicKey(k) : k;
  const x = (pub.export({ format: 'jwk' }) as JsonWebKey).x!;
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}
