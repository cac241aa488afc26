/**
 * Process isolation: a fresh Node child per run under bubblewrap (no network namespace, read-only
 * system, nothing of the state dir visible, a memory cgroup), talking to the gateway only over our
 * own framed socket on fd 3 (frames.ts). Full Node is available inside (for agents that need npm
 * packages); the sandbox is the boundary, and everything the child sends is hostile data: a broken
 * frame, an unknown message, a flood or a stalled reader ends that run, never the gateway.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CROSSING_LIMITS, parseAgentJson, readLogFields } from './crossing.js';
import { errorShape } from '../errors/index.js';
import { ChildMessageError, FrameBudget, parseChildMessage, type ChildMsg } from './child-messages.js';
import { FrameDecoder, FrameError, MAX_CHILD_FRAME_BYTES, MAX_PARENT_FRAME_BYTES, encodeFrame } from './frames.js';
import { type AgentInstance, type DestroyReason, type InstanceFactory, InstanceFailure, type InstanceJob, type InstanceResult, type ResourceUsage } from './instance.js';

export const PROCESS_CHILD_SCRIPT = fileURLToPath(new URL('./process-child.js', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../../../package.json', import.meta.url));

/** What the sandbox module hands back: the child, and its memory cgroup's verdict once it exited. */
export type SandboxedProcess = ChildProcess & { readonly memoryCgroup?: { readonly oomKilled: boolean } };
/** Starts `node <script>` sandboxed with a socket on fd 3 and a memory budget; provided by the sandbox module. */
export type SandboxedNodeSpawner = (opts: { script: string; nodeArgs: string[]; roPaths: string[]; memoryMb: number }) => SandboxedProcess;

/** Tool calls one run may have in flight; more are answered as a call error. */
const MAX_CALLS_IN_FLIGHT = 256;
/** Results the child has not read yet; beyond this it is not draining its channel and the run ends. */
const MAX_UNREAD_BYTES = 96 * 1024 * 1024;
/** How long to wait after exit for the last bytes of the channel (a 'done' racing the exit). */
const DRAIN_AFTER_EXIT_MS = 1000;

interface ActiveRun {
  job: InstanceJob;
  resolve(r: InstanceResult): void;
  reject(e: InstanceFailure): void;
  inFlight: number;
}

class ProcessInstance implements AgentInstance {
  readonly isolation = 'process' as const;
  private _destroyed = false;
  private reason: DestroyReason | undefined;
  private lastUsage: ResourceUsage = { cpuSeconds: 0, heapBytes: 0 };
  private stderrTail = '';
  private used = false;
  readonly ready: Promise<void>;
  private readyWait: { resolve(): void; reject(e: InstanceFailure): void } | undefined;
  private current: ActiveRun | undefined;
  private readonly channel: Socket;
  private readonly decoder = new FrameDecoder(MAX_CHILD_FRAME_BYTES);
  private readonly budget = new FrameBudget();
  private ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Why the channel was cut by us (a protocol violation), reported instead of the resulting exit. */
  private violation: InstanceFailure | undefined;
  /** Set on a violation: nothing more the child sends is read. */
  private decoderStopped = false;

  constructor(
    private readonly child: SandboxedProcess,
    private readonly reusable: boolean,
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4096);
    });
    child.stdout?.resume();
    this.channel = child.stdio[3] as Socket;
    this.channel.on('error', () => undefined); // a reset channel shows up as its close / the exit
    this.channel.on('data', (chunk: Buffer) => this.onData(chunk));
    // The child closed its end but lives on: it can never report 'done'. Give a dying child time to be
    // seen exiting first, so an OOM kill (which also closes the channel) is reported as memory_limit.
    this.channel.on('end', () => {
      setTimeout(() => {
        if (!this.ended && this.child.exitCode === null && this.child.signalCode === null) this.violate('protocol_violation', 'the agent process closed its channel');
      }, DRAIN_AFTER_EXIT_MS).unref?.();
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.readyWait = { resolve, reject };
    });
    this.ready.catch(() => undefined);
    child.once('error', (e) => this.readyWait?.reject(new InstanceFailure('crashed', `sandboxed child failed to start: ${e.message}`)));
    // Conclude once the channel has delivered everything (a 'done' written just before exit still counts).
    let timer: NodeJS.Timeout | undefined;
    const conclude = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.ended) return;
      clearTimeout(timer);
      this.ended = { code, signal };
      this.onEnded();
    };
    child.once('exit', (code, signal) => {
      timer = setTimeout(() => conclude(code, signal), DRAIN_AFTER_EXIT_MS);
      timer.unref?.();
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => conclude(code, signal));
  }

  get destroyed(): boolean {
    return this._destroyed;
  }

  usage(): ResourceUsage {
    return this.lastUsage;
  }

  abort(): void {
    if (!this._destroyed) this.write({ type: 'abort' });
  }

  destroy(reason: DestroyReason): void {
    if (this._destroyed) return;
    this._destroyed = true;
    this.reason = reason;
    // SIGKILL the sandbox: bubblewrap is PID 1 of the run's PID namespace, so everything in it dies too.
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private write(m: unknown): void {
    if (this._destroyed || this.channel.destroyed || !this.channel.writable) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(m, MAX_PARENT_FRAME_BYTES);
    } catch {
      const id = (m as { id?: unknown }).id;
      frame = encodeFrame({ type: 'result', id, error: 'result too large for the agent channel' }, MAX_PARENT_FRAME_BYTES);
    }
    this.channel.write(frame);
    if (this.channel.writableLength > MAX_UNREAD_BYTES) this.violate('protocol_violation', `the agent process stopped reading its channel (${this.channel.writableLength} bytes unread)`);
  }

  /** End the run (or the start-up) with `code`, and the sandbox with it. */
  private violate(code: 'protocol_violation' | 'bad_agent_data', message: string): void {
    if (this.violation) return;
    this.violation = new InstanceFailure('agent_error', message, code);
    this.decoderStopped = true;
    this.readyWait?.reject(new InstanceFailure('crashed', `sandboxed child broke the protocol before it was ready: ${message}`));
    this.readyWait = undefined;
    this.settle((run) => run.reject(this.violation!));
    this.destroy('crashed');
    this.channel.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.decoderStopped) return;
    let bodies: Buffer[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (e) {
      return this.violate('protocol_violation', e instanceof FrameError ? e.message : 'unreadable channel data');
    }
    for (const body of bodies) {
      if (this.decoderStopped) return;
      if (!this.budget.take(body.length + 4)) return this.violate('protocol_violation', 'the agent process flooded its channel (frame rate or volume over the limit)');
      let m: ChildMsg;
      try {
        m = parseChildMessage(body);
      } catch (e) {
        return this.violate(e instanceof ChildMessageError ? e.code : 'protocol_violation', (e as Error).message);
      }
      this.dispatch(m);
    }
  }

  private dispatch(m: ChildMsg): void {
    if (this.readyWait) {
      if (m.type !== 'ready') return this.violate('protocol_violation', `"${m.type}" before "ready"`);
      const w = this.readyWait;
      this.readyWait = undefined;
      return w.resolve();
    }
    const run = this.current;
    if (m.type === 'ready') return this.violate('protocol_violation', 'a second "ready"');
    if (m.type === 'call') {
      // Between runs capabilities are revoked; a call from a leftover timer is answered, not served.
      if (!run) return this.write({ type: 'result', id: m.id, error: 'the run has ended; its capabilities are revoked' });
      return this.call(run, m);
    }
    if (m.type === 'log') {
      if (!run) return;
      // The same rule as the isolate's log crossing: fields within the cap and depth, or a marker.
      run.job.host.log(m.level, m.msg, readLogFields(m.fields));
      return;
    }
    // 'done'
    if (!run) return this.violate('protocol_violation', '"done" while no run is active');
    if (m.usage) this.lastUsage = m.usage;
    if (!m.ok) {
      const code = m.code ?? (m.kind === 'load_error' ? 'agent_load_failed' : undefined);
      return this.settle((r) => r.reject(new InstanceFailure(m.kind, m.message, code)));
    }
    const fits = Buffer.byteLength(m.outputJson) <= run.job.maxOutputBytes;
    // What fits is parsed by the run manager: a forged value must fail here, as bad data, not there.
    if (m.outputCut && fits) return this.settle((r) => r.reject(new InstanceFailure('agent_error', 'the agent output exceeds what its channel carries', 'output_too_large')));
    if (fits) {
      try {
        JSON.parse(m.outputJson);
      } catch {
        return this.violate('bad_agent_data', 'the agent process sent a result that is not JSON');
      }
    }
    this.settle((r) => r.resolve({ outputJson: m.outputJson, clock: m.clock, ...(m.clockOverflow ? { clockOverflow: true } : {}) }));
  }

  private call(run: ActiveRun, m: Extract<ChildMsg, { type: 'call' }>): void {
    const answer = (r: { text: string } | { error: string }) => {
      if (this.current === run) this.write({ type: 'result', id: m.id, ...r });
    };
    if (run.inFlight >= MAX_CALLS_IN_FLIGHT) return answer({ error: `too many calls in flight (at most ${MAX_CALLS_IN_FLIGHT})` });
    let args: unknown;
    try {
      // The isolate's rule for call arguments: the byte cap, the depth limit, no __proto__ keys.
      args = parseAgentJson(m.args, 'call arguments', CROSSING_LIMITS.callArgsBytes);
    } catch (e) {
      return answer({ error: errorShape(e).message });
    }
    run.inFlight++;
    Promise.resolve()
      .then(() => run.job.host.call(m.kind, m.name, args))
      .then(
        (r) => answer({ text: JSON.stringify(r ?? null) }),
        (e: unknown) => answer({ error: e instanceof Error ? e.message : String(e) }),
      )
      .catch(() => undefined)
      .finally(() => run.inFlight--);
  }

  private settle(fn: (run: ActiveRun) => void): void {
    const run = this.current;
    if (!run) return;
    this.current = undefined;
    fn(run);
  }

  /** The child and its channel are gone: fail whatever was waiting, with the most specific cause. */
  private onEnded(): void {
    const { code, signal } = this.ended!;
    const tail = this.stderrTail ? `: ${this.stderrTail.trim().split('\n').slice(-2).join(' | ')}` : '';
    if (this.readyWait) this.readyWait.reject(new InstanceFailure('crashed', `sandboxed child exited before it was ready (code ${code}, signal ${signal})${tail}`));
    this.readyWait = undefined;
    this.settle((run) => run.reject(this.endFailure(code, signal, tail)));
    this._destroyed = true;
    this.reason ??= 'crashed';
  }

  private endFailure(code: number | null, signal: NodeJS.Signals | null, tail: string): InstanceFailure {
    if (this.child.memoryCgroup?.oomKilled || /heap out of memory|Reached heap limit|Allocation failed/i.test(this.stderrTail)) {
      this.reason = 'memory_limit';
      return new InstanceFailure('memory_limit', 'the agent exceeded its memory limit');
    }
    if (this.violation) return this.violation;
    if (this.reason) return new InstanceFailure('destroyed', `instance destroyed (${this.reason})`);
    const mid = this.decoder.midFrame ? ' in the middle of a frame' : '';
    return new InstanceFailure('crashed', `agent process exited unexpectedly${mid} (code ${code}, signal ${signal})${tail}`);
  }

  async run(job: InstanceJob): Promise<InstanceResult> {
    if (this.used && !this.reusable) throw new InstanceFailure('crashed', 'instance already used: instances are never reused');
    if (this._destroyed) throw new InstanceFailure('destroyed', `instance destroyed (${this.reason})`);
    if (this.current) throw new InstanceFailure('crashed', 'instance is busy');
    this.used = true;
    await this.ready;
    if (this.ended || this._destroyed) throw this.violation ?? new InstanceFailure('destroyed', `instance destroyed (${this.reason ?? 'exited'})`);
    return new Promise<InstanceResult>((resolve, reject) => {
      this.current = { job, resolve, reject, inFlight: 0 };
      this.write({
        type: 'start',
        runId: job.runId,
        profile: job.profile,
        input: job.input ?? null,
        seed: job.seed,
        replayClock: job.replayClock ?? null,
        recordClock: job.recordClock,
        maxOutputBytes: job.maxOutputBytes,
        source: job.source,
      });
    });
  }
}

export class ProcessFactory implements InstanceFactory {
  readonly isolation = 'process' as const;
  private liveCount = 0;

  /** Sandboxed children started and not yet exited. */
  get live(): number {
    return this.liveCount;
  }
  constructor(
    private readonly spawner: SandboxedNodeSpawner,
    private readonly availability: () => { ok: boolean; reason?: string },
    /** Directories the child must see read-only (agent module dirs, their node_modules). */
    private readonly extraRoPaths: () => string[] = () => [],
  ) {}

  available(): { ok: boolean; reason?: string } {
    return this.availability();
  }

  async create(opts: { memoryMb: number; reusable?: boolean }): Promise<AgentInstance> {
    const a = this.availability();
    if (!a.ok) throw new InstanceFailure('crashed', a.reason ?? 'process isolation unavailable');
    const runtimeDir = dirname(PROCESS_CHILD_SCRIPT);
    const memoryMb = Math.max(16, opts.memoryMb);
    const child = this.spawner({
      script: PROCESS_CHILD_SCRIPT,
      nodeArgs: [`--max-old-space-size=${memoryMb}`],
      // The child needs its own compiled runtime dir and the package.json that marks it as ESM.
      roPaths: [runtimeDir, PACKAGE_JSON, ...this.extraRoPaths()],
      memoryMb,
    });
    this.liveCount++;
    child.once('exit', () => this.liveCount--);
    const inst = new ProcessInstance(child, opts.reusable ?? false);
    await inst.ready;
    return inst;
  }
}
