/** What the run manager needs from an isolated agent instance, whatever the isolation level. */
import type { IsolationLevel } from '../config/index.js';

/**
 * How much of an output past maxOutputBytes crosses from an instance: the run manager redacts what
 * it gets before cutting it to the cap, so a secret straddling the cap must arrive whole to be found.
 */
export const OUTPUT_MARGIN_CHARS = 64 * 1024;

/** The only way agent code reaches the outside: every call goes back through the pipeline. */
export interface HostBridge {
  /** kind 'tool': name is the tool; kind 'model': name is 'chat'. Resolves to the agent-visible result. */
  call(kind: 'tool' | 'model', name: string, args: unknown): Promise<unknown>;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: unknown): void;
}

export type AgentSource = { kind: 'file'; path: string } | { kind: 'inline'; name: string; code: string };

export interface InstanceJob {
  runId: string;
  profile: string;
  input: unknown;
  source: AgentSource;
  /** Seed for the instance's Math.random (recorded for deterministic runs). */
  seed: number;
  /** Keep the agent's clock readings (deterministic runs only). */
  recordClock: boolean;
  /** On replay: the clock readings to hand back, in order. */
  replayClock?: number[];
  host: HostBridge;
  maxOutputBytes: number;
}

export interface InstanceResult {
  /** JSON text of the agent's return value (the run manager caps and parses it). */
  outputJson: string;
  /** Every clock reading the agent made, in order (for deterministic replay). */
  clock: number[];
  /** True when the agent read the clock more often than the record keeps. */
  clockOverflow?: boolean;
}

export type DestroyReason = 'completed' | 'timeout' | 'killed' | 'shutdown' | 'memory_limit' | 'crashed';

/** Failure of an instance, classified so the run manager can pick the final state. */
export class InstanceFailure extends Error {
  constructor(
    readonly kind: 'agent_error' | 'memory_limit' | 'destroyed' | 'load_error' | 'crashed',
    message: string,
    readonly agentCode?: string,
  ) {
    super(message);
  }
}

export interface ResourceUsage {
  cpuSeconds: number;
  heapBytes: number;
}

export interface AgentInstance {
  readonly isolation: IsolationLevel;
  /** Runs one job; an instance runs at most one job in its life unless created reusable (session mode). */
  run(job: InstanceJob): Promise<InstanceResult>;
  /** Terminates the instance at once; a pending run() rejects with InstanceFailure('destroyed'). */
  destroy(reason: DestroyReason): void;
  readonly destroyed: boolean;
  usage(): ResourceUsage;
  /** Send the agent its abort signal (cooperative; destroy() is what enforces). */
  abort(): void;
}

export interface InstanceFactory {
  readonly isolation: IsolationLevel;
  /** Create a fresh, never-used instance (may be pre-started for the warm pool). */
  create(opts: { memoryMb: number; reusable?: boolean }): Promise<AgentInstance>;
  /** Whether this level can run here at all, and if not why (fail closed). */
  available(): { ok: boolean; reason?: string };
  /** Instances created and not yet destroyed (warm pool included). */
  readonly live: number;
}
