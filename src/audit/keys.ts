/**
 * The gateway's Ed25519 checkpoint signing key: <state-dir>/audit-signing.key (PKCS#8 PEM, 0600),
 * with its public half beside it in audit-signing.pub (SPKI PEM). The key is created once, with
 * the log; a missing, unreadable or replaced key is an error that only `clawguard audit rotate-key`
 * resolves (recorded in the chain and published to the witnesses), never a silent new key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

const keyOf = (privateKey: KeyObject): SigningKey => {
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
};

export function generateSigningKey(): SigningKey {
  return keyOf(generateKeyPairSync('ed25519').privateKey);
}

/**
 * A new key is written in two steps around the database record that makes it the log's key:
 * staged as audit-signing.key.new (0600), then committed (renamed into place, .pub written). A
 * crash in between leaves a staged key that openSigningKey completes or discards by the record.
 */
export function stageSigningKey(stateDir: string, key: SigningKey): void {
  writeSecretFile(`${keyPaths(stateDir).key}.new`, key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
}

export function commitStagedKey(stateDir: string): void {
  const p = keyPaths(stateDir);
  renameSync(`${p.key}.new`, p.key);
  writeFileSync(p.pub, createPublicKey(createPrivateKey(readFileSync(p.key))).export({ type: 'spki', format: 'pem' }) as string, { mode: 0o644 });
}

/** The staged key's id, if one is staged (and readable). */
export function stagedKeyId(stateDir: string): string | undefined {
  const f = `${keyPaths(stateDir).key}.new`;
  if (!existsSync(f)) return undefined;
  try {
    return keyIdOf(createPublicKey(createPrivateKey(readFileSync(f))));
  } catch {
    return undefined;
  }
}

export function discardStagedKey(stateDir: string): void {
  rmSync(`${keyPaths(stateDir).key}.new`, { force: true });
}

/** Write a key pair to the state dir, replacing what is there (the private half atomically, 0600). */
export function writeSigningKey(stateDir: string, key: SigningKey): void {
  stageSigningKey(stateDir, key);
  commitStagedKey(stateDir);
}

/**
 * The state dir's signing key. Created (staged: the caller commits it once recorded) only when
 * `create` (a brand-new log); otherwise a missing key, one that is not Ed25519, or an
 * audit-signing.pub that is not its public half is an error.
 */
export function loadSigningKey(stateDir: string, opts: { create: boolean }): { key: SigningKey; created: boolean } {
  const p = keyPaths(stateDir);
  if (!existsSync(p.key)) {
    if (!opts.create) throw new Error(`${p.key} is missing`);
    const key = generateSigningKey();
    stageSigningKey(stateDir, key);
    return { key, created: true };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(p.key));
  } catch (e) {
    throw new Error(`${p.key} is not a readable private key (${(e as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${p.key} is not an Ed25519 key`);
  const key = keyOf(privateKey);
  const pem = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  if (!existsSync(p.pub)) writeFileSync(p.pub, pem, { mode: 0o644 });
  else if (readFileSync(p.pub, 'utf8') !== pem) throw new Error(`${p.pub} is not the public half of ${p.key} (replaced?)`);
  return { key, created: false };
}

/**
 * The state dir's public key for verifiers without a witness: audit-signing.pub, which must be the
 * public half of audit-signing.key when both are there. Only as good as the state dir.
 */
export function stateDirPublicKey(stateDir: string): { key?: KeyObject; problem?: string } {
  const p = keyPaths(stateDir);
  try {
    const pub = existsSync(p.pub) ? createPublicKey(readFileSync(p.pub)) : undefined;
    const priv = existsSync(p.key) ? createPublicKey(createPrivateKey(readFileSync(p.key))) : undefined;
    if (pub && priv && spkiBase64(pub) !== spkiBase64(priv)) return { problem: `${p.pub} is not the public half of ${p.key} (replaced?)` };
    const key = pub ?? priv;
    return key ? { key } : {};
  } catch (e) {
    return { problem: `the state dir's signing key is unreadable: ${(e as Error).message}` };
  }
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
