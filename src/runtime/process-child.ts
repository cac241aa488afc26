/**
 * Runs inside the sandboxed child process (process isolation). Waits for a 'start' frame on fd 3 (our
 * own framed socket, see frames.ts; there is no Node IPC channel), runs the agent with the shared
 * prelude, reports 'done'. Tool and model calls go back to the gateway over the same socket; this
 * process has no network and sees no state. Agent code shares this process and can write to fd 3
 * itself: that is expected, the gateway treats every frame as hostile (child-messages.ts).
 */
import { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { AGENT_PRELUDE } from './agent-bootstrap.js';
import { OUTPUT_MARGIN_CHARS } from './instance.js';
import { FrameDecoder, MAX_CHILD_FRAME_BYTES, MAX_PARENT_FRAME_BYTES, encodeFrame } from './frames.js';

// Taken before any agent code runs, so an agent replacing JSON or Buffer methods does not garble
// the protocol by accident (on purpose it can; the gateway copes).
const { parse, stringify } = JSON;
const MAX_CALL_ARGS_CHARS = 4 * 1024 * 1024;
const MAX_LOG_FIELDS_CHARS = 64 * 1024;
/** Room left in a frame for everything of 'done' except the output. */
const MAX_OUTPUT_CHARS = 3 * 1024 * 1024;

interface StartMsg {
  type: 'start';
  runId: string;
  profile: string;
  input: unknown;
  seed: number;
  replayClock: number[] | null;
  recordClock: boolean;
  maxOutputBytes: number;
  source: { kind: 'file'; path: string } | { kind: 'inline'; name: string; code: string };
}
type ResultMsg = { type: 'result'; id: number; text: string } | { type: 'result'; id: number; error: string };

const channel = new Socket({ fd: 3, readable: true, writable: true });
channel.on('error', () => process.exit(0));
channel.on('close', () => process.exit(0));

function usage(): { cpuSeconds: number; heapBytes: number } {
  const cpu = process.cpuUsage();
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, heapBytes: process.memoryUsage().heapUsed };
}

const send = (m: Record<string, unknown>): void => {
  let frame: Buffer;
  try {
    frame = encodeFrame(m, MAX_CHILD_FRAME_BYTES, stringify);
  } catch (e) {
    if (m.type !== 'done') throw e;
    frame = encodeFrame({ type: 'done', ok: false, kind: 'crashed', message: `the agent's result could not be sent: ${(e as Error).message}`, code: 'output_too_large', usage: usage() }, MAX_CHILD_FRAME_BYTES, stringify);
  }
  channel.write(frame);
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

/** The prelude's result text, with the output cut to what the run keeps (the run manager marks it cut). */
function doneOk(text: string, maxOutputBytes: number): Record<string, unknown> {
  const r = parse(text) as { outputJson: string; clock?: number[]; clockOverflow?: boolean };
  const keep = Math.min(MAX_OUTPUT_CHARS, Math.max(0, Math.floor(maxOutputBytes)) + OUTPUT_MARGIN_CHARS);
  const outputJson = String(r.outputJson);
  const cut = outputJson.length > keep;
  return { type: 'done', ok: true, outputJson: cut ? outputJson.slice(0, keep) : outputJson, outputCut: cut, clock: Array.isArray(r.clock) ? r.clock : [], clockOverflow: r.clockOverflow === true, usage: usage() };
}

async function start(msg: StartMsg): Promise<void> {
  const host = {
    call: (kind: string, name: string, argsJson: string) =>
      new Promise<string>((resolve, reject) => {
        if (typeof argsJson !== 'string' || argsJson.length > MAX_CALL_ARGS_CHARS) return reject(new Error('call arguments too large'));
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ type: 'call', id, kind, name, args: argsJson });
      }),
    log: (level: string, m: string, fields: string) =>
      send({ type: 'log', level, msg: String(m).slice(0, 4096), fields: typeof fields === 'string' && fields.length <= MAX_LOG_FIELDS_CHARS ? fields : '{"truncated":true}' }),
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
    const text = await prelude.runAgent(agentNs, stringify(msg.input ?? null), msg.runId);
    send(doneOk(text, msg.maxOutputBytes));
  } catch (e) {
    const err = e as Error & { code?: unknown };
    send({ type: 'done', ok: false, kind: 'agent_error', message: String(err?.message ?? e), ...(typeof err?.code === 'string' ? { code: err.code } : {}), usage: usage() });
  }
}

function onFrame(raw: Record<string, unknown>): void {
  if (raw.type === 'start' && !busy) {
    busy = true;
    void start(raw as unknown as StartMsg).finally(() => {
      busy = false;
    });
  } else if (raw.type === 'result') {
    const r = raw as unknown as ResultMsg;
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if ('text' in r) p.resolve(r.text);
    else p.reject(new Error(r.error));
  } else if (raw.type === 'abort') {
    prelude?.abort();
  }
}

const decoder = new FrameDecoder(MAX_PARENT_FRAME_BYTES);
channel.on('data', (chunk: Buffer) => {
  for (const body of decoder.push(chunk)) onFrame(parse(body.toString('utf8')) as Record<string, unknown>);
});

// An error thrown outside the agent's promise (a timer, an event handler) still ends the run with it.
const fatal = (e: unknown): void => {
  const err = e as Error & { code?: unknown };
  try {
    send({ type: 'done', ok: false, kind: 'crashed', message: `uncaught: ${String(err?.message ?? e)}`, code: 'crashed', usage: usage() });
  } catch {
    /* the channel is gone: the exit says it */
  }
  setImmediate(() => process.exit(1));
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
send({ type: 'ready' });
