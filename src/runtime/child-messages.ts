/**
 * Validation of what a process-isolated child sends. The child runs agent code in its own process, so
 * every frame may be forged: each is decoded as strict UTF-8 JSON and type-checked field by field.
 * A frame that is not JSON, or names an unknown type, is a `protocol_violation`; a known type with
 * fields of the wrong shape is `bad_agent_data`. Either ends the run (never the gateway).
 */
import type { ResourceUsage } from './instance.js';

export type ChildMsg =
  | { type: 'ready' }
  | { type: 'call'; id: number; kind: 'tool' | 'model'; name: string; args: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields: string }
  | { type: 'done'; ok: true; outputJson: string; outputCut: boolean; clock: number[]; clockOverflow: boolean; usage?: ResourceUsage }
  | { type: 'done'; ok: false; kind: 'agent_error' | 'load_error' | 'crashed'; message: string; code?: string; usage?: ResourceUsage };

export class ChildMessageError extends Error {
  constructor(
    readonly code: 'protocol_violation' | 'bad_agent_data',
    message: string,
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const DONE_KINDS = ['agent_error', 'load_error', 'crashed'] as const;
/** Error messages and tool names are short; anything longer is cut, not trusted to be bounded. */
const MAX_MESSAGE_CHARS = 64 * 1024;
const MAX_NAME_CHARS = 256;
const MAX_CLOCK_READINGS = 1_000_000;
/** Codes an agent may attach to its error: identifiers only, so no code table entry can be forged wholesale. */
const AGENT_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

const bad = (m: string): never => {
  throw new ChildMessageError('bad_agent_data', m);
};
const str = (v: unknown, what: string): string => (typeof v === 'string' ? v : bad(`${what} must be a string`));

function usageOf(v: unknown): ResourceUsage | undefined {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) return bad('usage must be an object');
  const u = v as Record<string, unknown>;
  const n = (x: unknown, what: string) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : bad(`usage.${what} must be a non-negative number`));
  return { cpuSeconds: n(u.cpuSeconds, 'cpuSeconds'), heapBytes: n(u.heapBytes, 'heapBytes') };
}

/** Decode and check one frame body. Throws ChildMessageError. */
export function parseChildMessage(body: Buffer): ChildMsg {
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(body));
  } catch (e) {
    throw new ChildMessageError('protocol_violation', `malformed frame from the agent process (${(e as Error).message.slice(0, 120)})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ChildMessageError('protocol_violation', 'frame from the agent process is not an object');
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
      return { type: 'ready' };
    case 'call': {
      if (typeof m.id !== 'number' || !Number.isSafeInteger(m.id) || m.id < 1) return bad('call id must be a positive integer');
      if (m.kind !== 'tool' && m.kind !== 'model') return bad('call kind must be "tool" or "model"');
      const name = str(m.name, 'call name');
      if (name.length > MAX_NAME_CHARS) return bad('call name too long');
      // Oversized arguments are answered as a call error (as in thread isolation), so only the type is checked here.
      return { type: 'call', id: m.id, kind: m.kind, name, args: str(m.args, 'call args') };
    }
    case 'log': {
      const level = LEVELS.find((l) => l === m.level) ?? bad('log level must be debug, info, warn or error');
      return { type: 'log', level, msg: str(m.msg, 'log msg').slice(0, 4096), fields: str(m.fields, 'log fields') };
    }
    case 'done': {
      const usage = usageOf(m.usage);
      if (m.ok === true) {
        const outputJson = str(m.outputJson, 'outputJson');
        const clock = m.clock ?? [];
        if (!Array.isArray(clock) || clock.length > MAX_CLOCK_READINGS || !clock.every((c) => typeof c === 'number' && Number.isFinite(c))) return bad('clock must be an array of finite numbers');
        if (m.clockOverflow !== undefined && typeof m.clockOverflow !== 'boolean') return bad('clockOverflow must be a boolean');
        if (m.outputCut !== undefined && typeof m.outputCut !== 'boolean') return bad('outputCut must be a boolean');
        return { type: 'done', ok: true, outputJson, outputCut: m.outputCut === true, clock: clock as number[], clockOverflow: m.clockOverflow === true, ...(usage ? { usage } : {}) };
      }
      if (m.ok === false) {
        const kind = DONE_KINDS.find((k) => k === m.kind) ?? bad('done kind must be agent_error, load_error or crashed');
        const message = str(m.message, 'error message').slice(0, MAX_MESSAGE_CHARS);
        if (m.code !== undefined && typeof m.code !== 'string') return bad('error code must be a string');
        const code = typeof m.code === 'string' && AGENT_CODE.test(m.code) ? m.code : undefined;
        return { type: 'done', ok: false, kind, message, ...(code ? { code } : {}), ...(usage ? { usage } : {}) };
      }
      return bad('done.ok must be a boolean');
    }
    default:
      throw new ChildMessageError('protocol_violation', `unknown message type ${JSON.stringify(String(m.type)).slice(0, 80)} from the agent process`);
  }
}

/**
 * Frames per second and bytes per second a child may send (token buckets). Real agents send a few
 * frames per tool call; a flood is a protocol violation that ends the run rather than a queue that grows.
 */
export class FrameBudget {
  private frames: number;
  private bytes: number;
  private last = performance.now();

  constructor(
    private readonly framesPerSecond = 10_000,
    private readonly bytesPerSecond = 64 * 1024 * 1024,
    private readonly burstSeconds = 2,
  ) {
    this.frames = framesPerSecond * burstSeconds;
    this.bytes = bytesPerSecond * burstSeconds;
  }

  /** Charge one frame of `size` bytes; false when the child is over its budget. */
  take(size: number): boolean {
    const t = performance.now();
    const dt = (t - this.last) / 1000;
    this.last = t;
    this.frames = Math.min(this.framesPerSecond * this.burstSeconds, this.frames + dt * this.framesPerSecond) - 1;
    this.bytes = Math.min(this.bytesPerSecond * this.burstSeconds, this.bytes + dt * this.bytesPerSecond) - size;
    return this.frames >= 0 && this.bytes >= 0;
  }
}
