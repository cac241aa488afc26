/**
 * Consistency proofs for the publisher, computed in one long-lived worker thread so that reading
 * the events and hashing them never holds up the event loop or the audit writer.
 */
import { Worker } from 'node:worker_threads';
import type { ProofRequest, ProofResult } from './consistency-db.js';

export class Prover {
  private worker: Worker | undefined;
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (r: ProofResult) => void; reject: (e: Error) => void }>();

  constructor(private readonly file: string) {}

  private start(): Worker {
    const w = new Worker(new URL('./proof-worker.js', import.meta.url), { workerData: { file: this.file } });
    w.unref();
    w.on('message', (m: { id: number; r?: ProofResult; error?: string }) => {
      const p = this.waiting.get(m.id);
      if (!p) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.r!);
    });
    const lost = (e: Error) => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.waiting.values()) p.reject(e);
      this.waiting.clear();
    };
    w.once('error', lost);
    w.once('exit', (code) => lost(new Error(`the proof worker exited (${code})`)));
    return w;
  }

  prove(req: ProofRequest): Promise<ProofResult> {
    this.worker ??= this.start();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage({ id, req });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
