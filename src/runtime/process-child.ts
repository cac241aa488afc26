/**
 * Runs inside the sandboxed child process (process isolation). Waits for one 'start' message on
 * the IPC channel, runs the agent with the shared prelude, reports 'done', and exits. Tool and
 * model calls go back to the gateway over IPC; this process has no network and sees no state.
 */
import { pathToFileURL } from 'node:url';
import { AGENT_PRELUDE } from './agent-bootstrap.js';

interface StartMsg {
  type: 'start';
  runId: string;
  profile: string;
  input: unknown;
  seed: number;
  replayClock: number[] | null;
  recordClock: boolean;
  source: { kind: 'file'; path: string } | { kind: 'inline'; name: string; code: string };
}
type ResultMsg = { type: 'result'; id: number; text: string } | { type: 'result'; id: number; error: string };

const send = (m: unknown): void => {
  process.send?.(m);
};

// The prelude is plain JavaScript shared with the isolate level; evaluate it once here.
const cgPrelude = new Function(`${AGENT_PRELUDE}; return cgPrelude;`)() as (
  host: { call(k: string, n: string, a: string): Promise<string>; log(l: string, m: string, f: string): void },
  profile: string,
  seed: number,
  replayClock: number[] | null,
  record: boolean,
) => { runAgent(ns: unknown, input: string, runId: string): Promise<string>; abort(): void };

let nextId = 1;
const pending = new Map<number, { resolve(v: string): void; reject(e: Error): void }>();
let busy = false;
let prelude: ReturnType<typeof cgPrelude> | undefined;
let agentNs: unknown;

function usage(): { cpuSeconds: number; heapBytes: number } {
  const cpu = process.cpuUsage();
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, heapBytes: process.memoryUsage().heapUsed };
}

async function start(msg: StartMsg): Promise<void> {
  const host = {
    call: (kind: string, name: string, argsJson: string) =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ type: 'call', id, kind, name, args: argsJson });
      }),
    log: (level: string, m: string, fields: string) => send({ type: 'log', level, msg: m, fields }),
  };
  if (!prelude) {
    prelude = cgPrelude(host, msg.profile, msg.seed, msg.replayClock, msg.recordClock === true);
    try {
      agentNs = msg.source.kind === 'file'
        ? await import(pathToFileURL(msg.source.path).href)
        : await import(`data:text/javascript;base64,${Buffer.from(msg.source.code).toString('base64')}`);
    } catch (e) {
      send({ type: 'done', ok: false, kind: 'load_error', message: `agent module failed to load: ${(e as Error).message}`, usage: usage() });
      return;
    }
  }
  try {
    const text = await prelude.runAgent(agentNs, JSON.stringify(msg.input ?? null), msg.runId);
    send({ type: 'done', ok: true, text, usage: usage() });
  } catch (e) {
    const err = e as Error & { code?: unknown };
    send({ type: 'done', ok: false, kind: 'agent_error', message: err?.message ?? String(e), code: typeof err?.code === 'string' ? err.code : undefined, usage: usage() });
  }
}

process.on('message', (raw: unknown) => {
  const msg = raw as { type?: string } | null;
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'start' && !busy) {
    busy = true;
    void start(msg as StartMsg).finally(() => {
      busy = false;
    });
  } else if (msg.type === 'result') {
    const r = msg as ResultMsg;
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if ('text' in r) p.resolve(r.text);
    else p.reject(new Error(r.error));
  } else if (msg.type === 'abort') {
    prelude?.abort();
  }
});
process.on('disconnect', () => process.exit(0));
// An error thrown outside the agent's promise (a timer, an event handler) still ends the run with it.
const fatal = (e: unknown): void => {
  const err = e as Error & { code?: unknown };
  send({ type: 'done', ok: false, kind: 'crashed', message: `uncaught: ${err?.message ?? String(e)}`, code: 'crashed', usage: usage() });
  setImmediate(() => process.exit(1));
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
send({ type: 'ready' });
