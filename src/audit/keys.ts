/**
 * The gateway's Ed25519 checkpoint signing key: <state-dir>/audit-signing.key (PKCS#8 PEM, 0600),
 * with its public half beside it in audit-signing.pub (SPKI PEM) for verifiers.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSecretFile } from '../store/index.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export const keyPaths = (stateDir: string) => ({ key: join(stateDir, 'audit-signing.key'), pub: join(stateDir, 'audit-signing.pub') });

export function keyIdOf(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

export function loadOrCreateSigningKey(stateDir: string): SigningKey {
  const p = keyPaths(stateDir);
  let privateKey: KeyObject;
  if (existsSync(p.key)) privateKey = createPrivateKey(readFileSync(p.key));
  else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    writeSecretFile(p.key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${p.key} is not an Ed25519 key`);
  const publicKey = createPublicKey(privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  if (!existsSync(p.pub) || readFileSync(p.pub, 'utf8') !== pem) writeFileSync(p.pub, pem, { mode: 0o644 });
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** The public key verifiers trust: a PEM file given explicitly, or the state dir's. */
export function loadPublicKey(stateDir: string | undefined, file?: string): KeyObject | undefined {
  const candidates = file ? [file] : stateDir ? [keyPaths(stateDir).pub, keyPaths(stateDir).key] : [];
  for (const f of candidates) {
    if (!existsSync(f)) continue;
    const pem = readFileSync(f);
    return pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  }
  return undefined;
}

export function signText(key: KeyObject, text: string): string {
  return sign(null, Buffer.from(text), key).toString('base64');
}

export function verifyText(key: KeyObject, text: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(text), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export function publicKeyFromSpkiBase64(b64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
}

export function spkiBase64(pub: KeyObject): string {
  return pub.export({ type: 'spki', format: 'der' }).toString('base64');
}
