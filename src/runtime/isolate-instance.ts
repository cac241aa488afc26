/**
 * Thread isolation: a fresh V8 isolate (isolated-vm) per run, with its own heap limit. Agent
 * code sees plain JavaScript and `ctx` only: no require, no process, no import (static imports
 * fail at link time, dynamic import() is unsupported in the isolate), no timers, no sockets.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IvmContext, IvmIsolate, IvmModule, IvmModuleApi, IvmReference } from './ivm-api.js';
import { AGENT_PRELUDE } from './agent-bootstrap.js';
import { answerCall, clip, errorResult, guardCallback, guardSyncCallback, readCall, readLog, readRunReply } from './crossing.js';
import { ISOLATE_GLOBALS_HARDENING } from './isolate-globals.js';
import { errorShape, isClawguardError } from '../errors/index.js';
import { type AgentInstance, type DestroyReason, type InstanceFactory, InstanceFailure, type InstanceJob, type InstanceResult, type ResourceUsage } from './instance.js';

type Ivm = IvmModuleApi;
let ivmModule: Ivm | undefined;
let ivmError: string | undefined;
function loadIvm(): Ivm | undefined {
  if (ivmModule || ivmError) return ivmModule;
  // isolated-vm is a native addon and an optional dependency: 5.x builds on Node 20, 6.x (installed
  // under the alias isolated-vm-node22) on Node >= 22. Without either, thread isolation is unavailable.
  const req = createRequire(import.meta.url);
  const major = Number(process.versions.node.split('.')[0]);
  const names = major >= 22 ? ['isolated-vm-node22', 'isolated-vm'] : ['isolated-vm', 'isolated-vm-node22'];
  const errors: string[] = [];
  for (const name of names) {
    try {
      ivmModule = req(name) as Ivm;
      return ivmModule;
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  ivmError = `isolated-vm could not be loaded (${errors.join('; ')})`;
  return undefined;
}

/** What the in-isolate runner answers: [outputJson] or [null, message, code]. */
type RunReply = [string] | [null, string, string | null];

class IsolateInstance implements AgentInstance {
  readonly isolation = 'thread' as const;
  private _destroyed = false;
  private destroyReason: DestroyReason | undefined;
  private abortFn: IvmReference<() => void> | undefined;
  /**
   * Host-side handles into the isolate. Released on destroy: one still alive when Node tears its
   * environment down at exit makes isolated-vm abort (seen under coverage collection).
   */
  private readonly handles: Array<{ release(): void }> = [];
  private lastUsage: ResourceUsage = { cpuSeconds: 0, heapBytes: 0 };
  private used = false;

  constructor(
    private readonly ivm: Ivm,
    private readonly isolate: IvmIsolate,
    private readonly context: IvmContext,
    private readonly reusable: boolean,
    private readonly onDestroyed: () => void,
  ) {}

  get destroyed(): boolean {
    return this._destroyed;
  }

  /** Never blocks: the sync heap-statistics call would wait on an isolate that is spinning. */
  usage(): ResourceUsage {
    return this.lastUsage;
  }

  private readCpu(): number {
    try {
      return Number(this.isolate.cpuTime) / 1e9;
    } catch {
      return this.lastUsage.cpuSeconds;
    }
  }

  private async sampleUsage(): Promise<void> {
    try {
      const h = await this.isolate.getHeapStatistics();
      this.lastUsage = { cpuSeconds: this.readCpu(), heapBytes: h.used_heap_size + h.externally_allocated_size };
    } catch {
      /* disposed meanwhile: keep the last reading */
    }
  }

  abort(): void {
    if (this.abortFn && !this._destroyed) this.abortFn.applyIgnored(undefined, []);
  }

  destroy(reason: DestroyReason): void {
    if (this._destroyed) return;
    if (!this.isolate.isDisposed) this.lastUsage = { ...this.lastUsage, cpuSeconds: this.readCpu() };
    this._destroyed = true;
    this.destroyReason = reason;
    if (!this.isolate.isDisposed) this.isolate.dispose();
    this.releaseHandles();
    this.onDestroyed();
  }

  private loaded: { runRef: IvmReference<(ns: unknown, input: string, runId: string) => Promise<RunReply>>; ns: IvmReference<unknown> } | undefined;
  private currentHost: InstanceJob['host'] | undefined;

  private releaseHandles(): void {
    for (const h of this.handles.splice(0)) {
      try {
        h.release();
      } catch {
        /* already released with the isolate */
      }
    }
    try {
      this.context.release();
    } catch {
      /* disposed */
    }
    this.loaded = undefined;
    this.abortFn = undefined;
  }

  /** Set up the prelude and the agent module once; a session instance reuses them. */
  private async load(job: InstanceJob): Promise<NonNullable<IsolateInstance['loaded']>> {
    const { ivm, isolate, context } = this;
    let code: string;
    let filename: string;
    if (job.source.kind === 'file') {
      try {
        code = await readFile(job.source.path, 'utf8');
      } catch (e) {
        throw new InstanceFailure('load_error', `agent module ${job.source.path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'agent_module_not_found');
      }
      filename = job.source.path;
    } else {
      code = job.source.code;
      filename = `builtin:${job.source.name}`;
    }
    // Strings cross as [string] with copy: isolated-vm turns a bare string of 1 KiB or more into an
    // external string in the gateway's heap, whose finalizer aborts the process if it runs at exit.
    // Both callbacks are guarded: whatever the agent sends, they answer data and never throw.
    const callRef = new ivm.Reference(guardCallback(
      async (kind: unknown, name: unknown, boxedArgs: unknown): Promise<[string]> => {
        const host = this.currentHost;
        if (!host) return answerCall(errorResult('revoked', 'the run has ended; its capabilities are revoked'));
        const c = readCall(kind, name, boxedArgs);
        return answerCall(await host.call(c.kind, c.name, c.args));
      },
      (e) => answerCall(errorResult(isClawguardError(e) ? e.code : 'tool_failed', isClawguardError(e) ? e.message : 'the call failed in the gateway')),
    ));
    this.handles.push(callRef);
    const logRef = new ivm.Reference(guardSyncCallback((boxed: unknown) => {
      const host = this.currentHost;
      if (!host) return;
      const l = readLog(boxed);
      host.log(l.level, l.msg, l.fields);
    }));
    this.handles.push(logRef);
    // Before anything of the agent's: no allocation outside the memory limit (isolate-globals.ts).
    await context.evalClosure(ISOLATE_GLOBALS_HARDENING, []);
    // 'use strict' and null-prototype option objects: a getter the agent later puts on
    // Object.prototype is never consulted by the bridge.
    await context.evalClosure(
      `'use strict';
       ${AGENT_PRELUDE}
       const callOpts = { __proto__: null, arguments: { __proto__: null, copy: true }, result: { __proto__: null, promise: true, copy: true } };
       const logOpts = { __proto__: null, arguments: { __proto__: null, copy: true } };
       const host = {
         call: async (k, n, a) => (await $0.apply(undefined, [k, n, [a]], callOpts))[0],
         log: (l, m, f) => { $1.applyIgnored(undefined, [[l, m, f]], logOpts); },
       };
       globalThis.__cg = cgPrelude(host, $2, $3, $4 === null ? null : JSON.parse($4), $5);`,
      [callRef, logRef, job.profile, job.seed, job.replayClock ? JSON.stringify(job.replayClock) : null, job.recordClock],
    );
    // The runner reads what the agent threw with primitives taken now, and never throws itself: a
    // thrown Proxy, a getter that throws on \`message\`, a Symbol all become a message.
    const runRef = (await context.evalClosure(`'use strict';
       const p = globalThis.__cg;
       const Str = String;
       const describe = (e) => {
         try {
           if (typeof e === 'string') return e;
           if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
             const m = e.message;
             if (typeof m === 'string') return m;
             if (m !== undefined) return Str(m);
           }
           return Str(e);
         } catch { return 'the agent threw a value that cannot be read'; }
       };
       const codeOf = (e) => { try { const c = e !== null && typeof e === 'object' ? e.code : undefined; return typeof c === 'string' ? c : null; } catch { return null; } };
       return async (ns, input, runId) => {
         try { return [await p.runAgent(ns, input, runId)]; }
         catch (e) { return [null, describe(e), codeOf(e)]; }
       };`, [], { result: { reference: true } })) as IvmReference<(ns: unknown, input: string, runId: string) => Promise<RunReply>>;
    // Take the prelude's handles off the global object before agent code runs.
    this.abortFn = (await context.evalClosure('const p = globalThis.__cg; delete globalThis.__cg; return p.abort;', [], { result: { reference: true } })) as IvmReference<() => void>;
    this.handles.push(this.abortFn);
    let mod: IvmModule;
    try {
      mod = await isolate.compileModule(code, { filename });
      await mod.instantiate(context, (specifier: string) => {
        throw new Error(`import of "${specifier}" is not available in thread isolation (agent code sees only ctx; use isolation "process" for npm packages)`);
      });
      await mod.evaluate();
    } catch (e) {
      if (this._destroyed || isolate.isDisposed) throw this.destroyedFailure(e);
      throw new InstanceFailure('load_error', `agent module ${filename} failed to load: ${clip(errorShape(e).message, 2048)}`, 'agent_load_failed');
    }
    this.handles.push(runRef, mod, mod.namespace);
    return { runRef, ns: mod.namespace };
  }

  async run(job: InstanceJob): Promise<InstanceResult> {
    if (this.used && !this.reusable) throw new InstanceFailure('crashed', 'instance already used: instances are never reused');
    if (this._destroyed) throw this.destroyedFailure();
    this.used = true;
    this.currentHost = job.host;
    try {
      this.loaded ??= await this.load(job);
      const reply = (await this.loaded.runRef.apply(undefined, [this.loaded.ns.derefInto(), JSON.stringify(job.input ?? null), job.runId], {
        result: { promise: true, copy: true },
      })) as RunReply;
      // The agent's own errors come back as data too (a thrown error's message would cross as a bare string).
      const r = readRunReply(reply, job.maxOutputBytes);
      if (!r.ok) throw new InstanceFailure('agent_error', r.message, r.code);
      await this.sampleUsage();
      return { outputJson: r.outputJson, clock: r.clock, ...(r.clockOverflow ? { clockOverflow: true } : {}) };
    } catch (e) {
      if (e instanceof InstanceFailure) throw e;
      if (this._destroyed || this.isolate.isDisposed) throw this.destroyedFailure(e);
      // A reply that did not cross (not copyable, wrong shape, not JSON) fails the run, as bad agent data.
      const shape = isClawguardError(e) ? e : undefined;
      throw new InstanceFailure('agent_error', shape ? shape.message : `the agent's reply could not cross the isolate boundary: ${clip(errorShape(e).message, 512)}`, 'bad_agent_data');
    } finally {
      // Revoke: a handle the agent kept can no longer reach the host.
      this.currentHost = undefined;
    }
  }

  private destroyedFailure(e?: unknown): InstanceFailure {
    const msg = e instanceof Error ? e.message : '';
    if (/memory limit/i.test(msg)) {
      // isolated-vm disposed the isolate itself; account for it like any other destroy.
      if (!this._destroyed) {
        this._destroyed = true;
        this.releaseHandles();
        this.onDestroyed();
      }
      this.destroyReason = 'memory_limit';
      return new InstanceFailure('memory_limit', 'the agent exceeded its memory limit');
    }
    return new InstanceFailure('destroyed', `instance destroyed (${this.destroyReason ?? 'unknown'})`);
  }
}

export class IsolateFactory implements InstanceFactory {
  readonly isolation = 'thread' as const;
  private liveCount = 0;

  get live(): number {
    return this.liveCount;
  }

  available(): { ok: boolean; reason?: string } {
    const ivm = loadIvm();
    return ivm ? { ok: true } : { ok: false, reason: ivmError ?? 'isolated-vm unavailable' };
  }

  async create(opts: { memoryMb: number; reusable?: boolean }): Promise<AgentInstance> {
    const ivm = loadIvm();
    if (!ivm) throw new InstanceFailure('crashed', ivmError ?? 'isolated-vm unavailable');
    // isolated-vm enforces a minimum of 8 MB.
    const isolate = new ivm.Isolate({ memoryLimit: Math.max(8, opts.memoryMb) });
    const context = await isolate.createContext();
    this.liveCount++;
    return new IsolateInstance(ivm, isolate, context, opts.reusable ?? false, () => this.liveCount--);
  }
}
