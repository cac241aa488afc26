/**
 * The gateway's last line of defence: an unhandled rejection or an uncaught exception anywhere in
 * the process is logged and counted, and the gateway keeps serving. Every isolate crossing is meant
 * never to get here (crossing.ts); this exists so that a defect there costs one log line, not every
 * run in flight. Installed once per process from Gateway.start (idempotent, later gateways only take
 * over the logger and metrics). Node's test runner installs its own handlers too, and listeners all
 * run, so a test that triggers one still fails: nothing is hidden there.
 */
import client from 'prom-client';
import type { Logger } from 'pino';

export interface ProcessGuardSink {
  log: Logger;
  registry?: client.Registry;
}

interface GuardState {
  sink: ProcessGuardSink;
  counters: WeakMap<client.Registry, client.Counter<'kind'>>;
  seen: { unhandledRejection: number; uncaughtException: number };
}

// On the process object under a registered symbol: two copies of this module still install once.
const KEY = Symbol.for('clawguard.processGuard');
type GuardedProcess = NodeJS.Process & { [KEY]?: GuardState };

function counterFor(state: GuardState, registry: client.Registry | undefined): client.Counter<'kind'> | undefined {
  if (!registry) return undefined;
  let c = state.counters.get(registry);
  if (!c) {
    const existing = registry.getSingleMetric('clawguard_process_unhandled_errors_total') as client.Counter<'kind'> | undefined;
    c = existing ?? new client.Counter({ name: 'clawguard_process_unhandled_errors_total', help: 'Unhandled rejections and uncaught exceptions caught by the process guard (the gateway kept serving)', labelNames: ['kind'], registers: [registry] });
    state.counters.set(registry, c);
  }
  return c;
}

/** Describe a thrown value for the log without trusting it (no getter may throw out of the handler). */
function describe(e: unknown): { message: string; stack?: string } {
  try {
    if (e instanceof Error) return { message: String(e.message).slice(0, 4096), ...(typeof e.stack === 'string' ? { stack: e.stack.slice(0, 8192) } : {}) };
    return { message: String(e).slice(0, 4096) };
  } catch {
    return { message: 'a value that cannot be described' };
  }
}

function handle(state: GuardState, kind: 'unhandledRejection' | 'uncaughtException', e: unknown): void {
  try {
    state.seen[kind]++;
    counterFor(state, state.sink.registry)?.inc({ kind });
    state.sink.log.error({ event: 'process.' + kind, err: describe(e) }, `${kind === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'} caught by the process guard; the gateway keeps serving`);
  } catch {
    /* the guard itself must never throw */
  }
}

/** Install the handlers (once per process); a later call only points them at the new logger and registry. */
export function installProcessGuard(sink: ProcessGuardSink): { seen: Readonly<GuardState['seen']> } {
  const proc = process as GuardedProcess;
  const existing = proc[KEY];
  if (existing) {
    existing.sink = sink;
    counterFor(existing, sink.registry);
    return { seen: existing.seen };
  }
  const state: GuardState = { sink, counters: new WeakMap(), seen: { unhandledRejection: 0, uncaughtException: 0 } };
  proc[KEY] = state;
  counterFor(state, sink.registry);
  process.on('unhandledRejection', (reason) => handle(state, 'unhandledRejection', reason));
  process.on('uncaughtException', (err) => handle(state, 'uncaughtException', err));
  return { seen: state.seen };
}
