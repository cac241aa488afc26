/**
 * Ed25519 verification on a worker thread, for when the event loop is the bottleneck: the loop
 * only packs the signatures of one turn into a single transferred buffer (a few µs) and the
 * worker does the ~50 µs of curve arithmetic per signature on another core.
 *
 * The caller decides when to offload (see LoopLoad). If the worker cannot start or dies, what it
 * held and everything after is verified inline: an answer is always a real verification, never a
 * default.
 */
import { Worker } from 'node:worker_threads';
import type { VerifyAnswers, VerifyBatch } from './verify-worker.js';

interface Job {
  pk: Uint8Array;
  sig: Uint8Array;
  data: Uint8Array;
  resolve: (ok: boolean) => void;
}

export type InlineVerify = (data: Uint8Array, sig: Uint8Array, pk: Uint8Array) => boolean;

export class VerifyPool {
  private worker: Worker | undefined;
  private broken = false;
  private queue: Job[] = [];
  private scheduled = false;
  private next = 0;
  /** Jobs sent to the worker, by number, until it answers. */
  private readonly sent = new Map<number, Job>();
  batches = 0;
  offloaded = 0;

  constructor(
    private readonly inline: InlineVerify,
    private readonly workerUrl: URL = new URL('./verify-worker.js', import.meta.url),
  ) {}

  /** On the worker (inline once it is broken). */
  verify(data: Uint8Array, sig: Uint8Array, pk: Uint8Array): Promise<boolean> {
    if (this.broken) return Promise.resolve(this.inline(data, sig, pk));
    return new Promise((resolve) => {
      this.queue.push({ pk, sig, data, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private start(): Worker | undefined {
    if (this.worker || this.broken) return this.worker;
    try {
      const w = new Worker(this.workerUrl);
      w.on('message', (m: VerifyAnswers) => this.answered(m));
      w.on('error', () => this.fail());
      w.on('exit', () => this.fail());
      this.worker = w;
    } catch {
      this.fail();
    }
    return this.worker;
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (!jobs.length) return;
    const w = this.start();
    if (!w) {
      for (const j of jobs) j.resolve(this.inline(j.data, j.sig, j.pk));
      return;
    }
    let size = 0;
    for (const j of jobs) size += 96 + j.data.length;
    const buf = new Uint8Array(size);
    const ends = new Uint32Array(jobs.length);
    const first = this.next;
    let at = 0;
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i]!;
      buf.set(j.pk, at);
      buf.set(j.sig, at + 32);
      buf.set(j.data, at + 96);
      at += 96 + j.data.length;
      ends[i] = at;
      this.sent.set(this.next++, j);
    }
    this.batches++;
    this.offloaded += jobs.length;
    const batch: VerifyBatch = { first, buf: buf.buffer, ends };
    w.postMessage(batch, [buf.buffer, ends.buffer]);
    // Pending answers keep the process alive; an idle worker does not.
    w.ref();
  }

  private answered(m: VerifyAnswers): void {
    for (let i = 0; i < m.ok.length; i++) {
      const job = this.sent.get(m.first + i);
      if (!job) continue;
      this.sent.delete(m.first + i);
      job.resolve(m.ok[i] === 1);
    }
    if (this.sent.size === 0) this.worker?.unref();
  }

  /** Answers everything the worker held, inline, and stops offloading. */
  private fail(): void {
    this.broken = true;
    this.worker = undefined;
    const held = [...this.sent.values()];
    this.sent.clear();
    for (const j of held) j.resolve(this.inline(j.data, j.sig, j.pk));
  }

  /** Stops the worker; later calls verify inline. */
  async close(): Promise<void> {
    const w = this.worker;
    this.fail();
    if (w) await w.terminate();
  }
}
