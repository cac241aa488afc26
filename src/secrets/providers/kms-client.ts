/** The two KMS operations envelope encryption needs: GenerateDataKey and Decrypt. */
import type { KMSClient } from '@aws-sdk/client-kms';
import { ClawguardError } from '../../errors/index.js';
import { type AwsClientSettings, awsError, cacheKey, clientConfig, loadSdk } from './aws-common.js';

const clients = new Map<string, KMSClient>();
/** The SDK is loaded on first use: gateways without KMS secrets never pay for it. */
const sdk = () => loadSdk(() => import('@aws-sdk/client-kms'));

async function client(s: AwsClientSettings): Promise<KMSClient> {
  const k = cacheKey(s);
  let c = clients.get(k);
  if (!c) {
    c = new (await sdk()).KMSClient(clientConfig(s));
    clients.set(k, c);
  }
  return c;
}

export interface DataKey {
  plaintext: Buffer;
  /** The data key encrypted under the KMS key: safe to store, only KMS can unwrap it. */
  wrapped: Buffer;
  keyId: string;
}

export async function generateDataKey(s: AwsClientSettings, keyId: string, context?: Record<string, string>): Promise<DataKey> {
  try {
    const { GenerateDataKeyCommand } = await sdk();
    const r = await (await client(s)).send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', ...(context ? { EncryptionContext: context } : {}) }));
    if (!r.Plaintext || !r.CiphertextBlob) throw new ClawguardError('secret_unavailable', 'KMS GenerateDataKey: the answer has no Plaintext or CiphertextBlob');
    return { plaintext: Buffer.from(r.Plaintext), wrapped: Buffer.from(r.CiphertextBlob), keyId: r.KeyId ?? keyId };
  } catch (e) {
    throw awsError('KMS', `GenerateDataKey with key ${keyId}`, e);
  }
}

export async function decryptDataKey(s: AwsClientSettings, keyId: string, wrapped: Buffer, context?: Record<string, string>): Promise<Buffer> {
  try {
    const { DecryptCommand } = await sdk();
    const r = await (await client(s)).send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyId, ...(context ? { EncryptionContext: context } : {}) }));
    if (!r.Plaintext) throw new ClawguardError('secret_unavailable', 'KMS Decrypt: the answer has no Plaintext');
    return Buffer.from(r.Plaintext);
  } catch (e) {
    throw awsError('KMS', `Decrypt with key ${keyId}`, e);
  }
}
