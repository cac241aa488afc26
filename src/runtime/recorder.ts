/** Deterministic runs: record every nondeterministic input; replay against the record. */
import canonicalize from 'canonicalize';
import type { RunRecording } from '../store/index.js';

export interface Divergence {
  index: number;
  expected?: { kind: string; name: string; args: unknown };
  actual?: { kind: string; name: string; args: unknown };
}

export interface ReplayReport {
  runId: string;
  same: boolean;
  recordedCalls: number;
  replayedCalls: number;
  outputSame: boolean;
  divergence?: Divergence;
  state: string;
  error?: { code: string; message: string };
}

const canon = (v: unknown): string => canonicalize(v ?? null) ?? 'null';

export class Recorder {
  readonly rec: RunRecording;
  constructor(seed: number) {
    this.rec = { seed, clock: [], calls: [] };
  }
  call(kind: 'tool' | 'model', name: string, args: unknown, result: unknown): void {
    this.rec.calls.push({ kind, name, args: args ?? null, result: result ?? null });
  }
}

/** Hands recorded results back in order and notes the first call that differs from the record. */
export class Replayer {
  private i = 0;
  divergence: Divergence | undefined;
  constructor(private readonly rec: RunRecording) {}

  get replayed(): number {
    return this.i;
  }

  next(kind: 'tool' | 'model', name: string, args: unknown): unknown {
    const index = this.i++;
    const expected = this.rec.calls[index];
    const actual = { kind, name, args: args ?? null };
    if (!this.divergence && (!expected || expected.kind !== kind || expected.name !== name || canon(expected.args) !== canon(args))) {
      this.divergence = { index, ...(expected ? { expected: { kind: expected.kind, name: expected.name, args: expected.args } } : {}), actual };
    }
    if (this.divergence) return { ok: false, error: { code: 'replay_diverged', message: `call ${index} differs from the record` } };
    return expected!.result;
  }

  finish(): Divergence | undefined {
    if (!this.divergence && this.i < this.rec.calls.length) {
      const e = this.rec.calls[this.i]!;
      this.divergence = { index: this.i, expected: { kind: e.kind, name: e.name, args: e.args } };
    }
    return this.divergence;
  }

  static sameOutput(a: unknown, b: unknown): boolean {
    return canon(a) === canon(b);
  }
}
