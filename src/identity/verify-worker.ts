/**
 * Worker thread side of the Ed25519 verifier: receives batches of (public key, signature, message)
 * packed in one transferred buffer and answers one byte per job (1 = verifies).
 * Layout of each job: 32-byte public key, 64-byte signature, then the message; `ends[i]` is where
 * job i ends in the buffer.
 */
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

export interface VerifyBatch {
  first: number;
  buf: ArrayBuffer;
  ends: Uint32Array;
}

export interface VerifyAnswers {
  first: number;
  ok: Uint8Array;
}

interface Sodium {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

const sodium = createRequire(import.meta.url)('sodium-native') as Sodium;

function answer(b: VerifyBatch): VerifyAnswers {
  const all = new Uint8Array(b.buf);
  const ok = new Uint8Array(b.ends.length);
  let start = 0;
  for (let i = 0; i < b.ends.length; i++) {
    const end = b.ends[i]!;
    try {
      ok[i] = sodium.crypto_sign_verify_detached(all.subarray(start + 32, start + 96), all.subarray(start + 96, end), all.subarray(start, start + 32)) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
    start = end;
  }
  return { first: b.first, ok };
}

parentPort?.on('message', (b: VerifyBatch) => {
  const a = answer(b);
  parentPort!.postMessage(a, [a.ok.buffer as ArrayBuffer]);
});
