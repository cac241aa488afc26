/**
 * Process isolation: a fresh Node child per run under bubblewrap (no network namespace, read-only
 * system, nothing of the state dir visible), talking to the gateway only over its IPC channel.
 * Full Node is available inside (for agents that need npm packages); the sandbox is the boundary.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AgentInstance, type DestroyReason, type InstanceFactory, InstanceFailure, type InstanceJob, type InstanceResult, type ResourceUsage } from './instance.js';

export const PROCESS_CHILD_SCRIPT = fileURLToPath(new URL('./process-child.js', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../../../package.json', import.meta.url));

/** Starts `node <script>` sandboxed, with an IPC channel; provided by the sandbox module. */
export type SandboxedNodeSpawner = (opts: { script: string; nodeArgs: string[]; roPaths: string[] }) => ChildProcess;

const MAX_CALL_ARGS_BYTES = 4 * 1024 * 1024;

type ChildMsg =
  | { type: 'ready' }
  | { type: 'call'; id: number; kind: string; name: string; args: string }
  | { type: 'log'; level: string; msg: string; fields: string }
  | { type: 'done'; ok: true; text: string; usage: ResourceUsage }
  | { type: 'done'; ok: false; kind: string; message: string; code?: string; usage: ResourceUsage };

class ProcessInstance implements AgentInstance {
  readonly isolation = 'process' as const;
  private _destroyed = false;
  private reason: DestroyReason | undefined;
  private lastUsage: ResourceUsage = { cpuSeconds: 0, heapBytes: 0 };
  private stderrTail = '';
  private used = false;
  readonly ready: Promise<void>;
  private onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    private readonly child: ChildProcess,
    private readonly reusable: boolean,
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4096);
    });
    child.stdout?.resume();
    this.ready = new Promise<void>((resolve, reject) => {
      const onMsg = (m: ChildMsg) => {
        if (m?.type === 'ready') {
          child.off('message', onMsg);
          resolve();
        }
      };
      child.on('message', onMsg);
      child.once('exit', (code, signal) => reject(new InstanceFailure('crashed', `sandboxed child exited before it was ready (code ${code}, signal ${signal}): ${this.stderrTail.trim().split('\n').slice(-3).join(' | ')}`)));
      child.once('error', (e) => reject(new InstanceFailure('crashed', `sandboxed child failed to start: ${e.message}`)));
    });
    this.ready.catch(() => undefined);
    child.once('exit', (code, signal) => {
      this.exited = { code, signal };
      this.onExit?.(code, signal);
    });
  }

  get destroyed(): boolean {
    return this._destroyed;
  }

  usage(): ResourceUsage {
    return this.lastUsage;
  }

  abort(): void {
    if (!this._destroyed && this.child.connected) this.child.send({ type: 'abort' });
  }

  destroy(reason: DestroyReason): void {
    if (this._destroyed) return;
    this._destroyed = true;
    this.reason = reason;
    // SIGKILL the sandbox: bubblewrap is PID 1 of the run's PID namespace, so everything in it dies too.
    if (this.exited === undefined) this.child.kill('SIGKILL');
  }

  private memoryExceeded(): boolean {
    return /heap out of memory|Reached heap limit|Allocation failed/i.test(this.stderrTail);
  }

  async run(job: InstanceJob): Promise<InstanceResult> {
    if (this.used && !this.reusable) throw new InstanceFailure('crashed', 'instance already used: instances are never reused');
    if (this._destroyed) throw new InstanceFailure('destroyed', `instance destroyed (${this.reason})`);
    this.used = true;
    await this.ready;
    const child = this.child;
    return new Promise<InstanceResult>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.onExit = undefined;
        child.off('message', onMessage);
        fn();
      };
      this.onExit = (code, signal) => {
        finish(() => {
          if (this.memoryExceeded()) {
            this.reason = 'memory_limit';
            reject(new InstanceFailure('memory_limit', 'the agent exceeded its memory limit'));
          } else if (this._destroyed) reject(new InstanceFailure('destroyed', `instance destroyed (${this.reason})`));
          else reject(new InstanceFailure('crashed', `agent process exited unexpectedly (code ${code}, signal ${signal})${this.stderrTail ? `: ${this.stderrTail.trim().split('\n').slice(-2).join(' | ')}` : ''}`));
        });
      };
      if (this.exited) this.onExit(this.exited.code, this.exited.signal);
      const onMessage = (m: ChildMsg) => {
        if (!m || typeof m !== 'object') return;
        if (m.type === 'call') {
          if (typeof m.args !== 'string' || m.args.length > MAX_CALL_ARGS_BYTES) {
            child.send({ type: 'result', id: m.id, error: 'call arguments too large' });
            return;
          }
          let args: unknown;
          try { args = JSON.parse(m.args); } catch { child.send({ type: 'result', id: m.id, error: 'call arguments are not JSON' }); return; }
          job.host.call(m.kind === 'model' ? 'model' : 'tool', String(m.name), args).then(
            (r) => { if (child.connected && !this._destroyed) child.send({ type: 'result', id: m.id, text: JSON.stringify(r ?? null) }); },
            (e: Error) => { if (child.connected && !this._destroyed) child.send({ type: 'result', id: m.id, error: e.message }); },
          );
        } else if (m.type === 'log') {
          let f: unknown = null;
          try { f = JSON.parse(m.fields); } catch { /* ignore */ }
          const lv = (['debug', 'info', 'warn', 'error'] as const).find((l) => l === m.level) ?? 'info';
          job.host.log(lv, String(m.msg).slice(0, 4096), f);
        } else if (m.type === 'done') {
          if (m.usage && typeof m.usage.cpuSeconds === 'number') this.lastUsage = { cpuSeconds: m.usage.cpuSeconds, heapBytes: Number(m.usage.heapBytes) || 0 };
          finish(() => {
            if (m.ok) {
              try {
                const parsed = JSON.parse(m.text) as { outputJson: string; clock: number[]; clockOverflow?: boolean };
                resolve({ outputJson: String(parsed.outputJson), clock: Array.isArray(parsed.clock) ? parsed.clock.map(Number) : [], ...(parsed.clockOverflow ? { clockOverflow: true } : {}) });
              } catch {
                reject(new InstanceFailure('agent_error', 'agent process sent a malformed result'));
              }
            } else {
              const kind = m.kind === 'load_error' ? 'load_error' : m.kind === 'crashed' ? 'crashed' : 'agent_error';
              reject(new InstanceFailure(kind, String(m.message), m.code ?? (kind === 'load_error' ? 'agent_load_failed' : undefined)));
            }
          });
        }
      };
      child.on('message', onMessage);
      child.send({
        type: 'start',
        runId: job.runId,
        profile: job.profile,
        input: job.input ?? null,
        seed: job.seed,
        replayClock: job.replayClock ?? null,
        recordClock: job.recordClock,
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
    const child = this.spawner({
      script: PROCESS_CHILD_SCRIPT,
      nodeArgs: [`--max-old-space-size=${Math.max(16, opts.memoryMb)}`],
      // The child needs its own compiled runtime dir and the package.json that marks it as ESM.
      roPaths: [runtimeDir, PACKAGE_JSON, ...this.extraRoPaths()],
    });
    this.liveCount++;
    child.once('exit', () => this.liveCount--);
    const inst = new ProcessInstance(child, opts.reusable ?? false);
    await inst.ready;
    return inst;
  }
}
