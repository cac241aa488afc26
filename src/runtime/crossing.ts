/**
 * The host side of every crossing of the isolate boundary. Whatever arrives from agent code is
 * hostile data: the agent may have replaced JSON, Array.prototype or Promise.prototype.then by the
 * time it calls, or may hold the raw reference and call it with anything. Each reader here checks
 * type, size and shape and either answers plain data or throws a ClawguardError('bad_agent_data');
 * `guardCallback` makes sure no reader's failure ever leaves a Reference callback as an exception.
 */
import { ClawguardError, errorShape } from '../errors/index.js';
import { OUTPUT_MARGIN_CHARS } from './instance.js';

export const CROSSING_LIMITS = {
  /** Serialised arguments of one tool or model call. */
  callArgsBytes: 4 * 1024 * 1024,
  /** Nesting depth of any JSON value from the agent (host code walks them recursively). */
  depth: 100,
  toolNameChars: 256,
  logMessageChars: 4096,
  /** A log line's fields, serialised; past it the fields are replaced by a marker saying so. */
  logFieldsBytes: 16 * 1024,
  errorMessageChars: 8 * 1024,
  errorCodeChars: 64,
  /** Entries of a run's clock record (the prelude keeps at most this many). */
  clockEntries: 100_000,
} as const;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function bad(message: string): ClawguardError {
  return new ClawguardError('bad_agent_data', message);
}

/** UTF-8 size without allocating a buffer; `length * 3` bounds it, so huge strings are refused cheaply. */
function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Depth and key check without recursion (a 4 MiB string nests two million levels deep). A `__proto__`
 * key is refused: host code that copies with Object.assign would turn it into a prototype change.
 */
export function checkShape(value: unknown, maxDepth: number = CROSSING_LIMITS.depth): string | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > maxDepth) return `nested deeper than ${maxDepth} levels`;
    if (Array.isArray(v)) {
      for (const item of v) stack.push([item, d + 1]);
    } else {
      for (const k of Object.keys(v)) {
        if (k === '__proto__') return 'has a "__proto__" key';
        stack.push([(v as Record<string, unknown>)[k], d + 1]);
      }
    }
  }
  return undefined;
}

/**
 * Whether JSON text nests deeper than `max`, found by one scan of the text before it is parsed:
 * parsing two million levels (4 MiB of brackets) would hold the gateway's event loop for seconds.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Parse JSON text from the agent, within a byte cap and the depth limit. */
export function parseAgentJson(text: unknown, what: string, maxBytes: number): unknown {
  if (typeof text !== 'string') throw bad(`${what} did not arrive as text`);
  if (text.length > maxBytes) throw bad(`${what} are over the ${maxBytes}-byte limit (${text.length} characters)`);
  const bytes = utf8Bytes(text);
  if (bytes > maxBytes) throw bad(`${what} are ${bytes} bytes, over the ${maxBytes}-byte limit`);
  if (nestsDeeperThan(text, CROSSING_LIMITS.depth)) throw bad(`${what} are refused: nested deeper than ${CROSSING_LIMITS.depth} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(`${what} are not valid JSON`);
  }
  const problem = checkShape(value);
  if (problem) throw bad(`${what} are refused: ${problem}`);
  return value;
}

export interface CallCrossing {
  kind: 'tool' | 'model';
  name: string;
  args: unknown;
}

/** A tool or model call as the isolate sent it: (kind, name, [argsJson]). */
export function readCall(kind: unknown, name: unknown, boxedArgs: unknown): CallCrossing {
  if (kind !== 'tool' && kind !== 'model') throw bad('unknown call kind');
  if (typeof name !== 'string' || name.length === 0 || name.length > CROSSING_LIMITS.toolNameChars) throw bad(`the tool name must be a string of 1 to ${CROSSING_LIMITS.toolNameChars} characters`);
  if (!Array.isArray(boxedArgs) || boxedArgs.length !== 1) throw bad('call arguments did not arrive in the expected shape');
  return { kind, name, args: parseAgentJson(boxedArgs[0], 'call arguments', CROSSING_LIMITS.callArgsBytes) };
}

/** The agent-visible error result of a call (the same shape the pipeline uses for a refused call). */
export function errorResult(code: string, message: string): { ok: false; error: { code: string; message: string } } {
  return { ok: false, error: { code, message } };
}

/** Serialise what the host answers a call; a host value that cannot be serialised becomes an error result. */
export function answerCall(result: unknown): [string] {
  try {
    const text = JSON.stringify(result ?? null);
    if (typeof text === 'string') return [text];
  } catch {
    /* fall through */
  }
  return [JSON.stringify(errorResult('internal', 'the call result could not be serialised'))];
}

export interface LogCrossing {
  level: LogLevel;
  msg: string;
  fields: unknown;
}

/** A log line: never throws; oversized or malformed fields become a marker that says what was cut. */
export function readLog(boxed: unknown): LogCrossing {
  const [level, msg, fields] = Array.isArray(boxed) ? (boxed as unknown[]) : [];
  const lv = LOG_LEVELS.find((l) => l === level) ?? 'info';
  const text = typeof msg === 'string' ? msg : '';
  const m = text.length > CROSSING_LIMITS.logMessageChars ? `${text.slice(0, CROSSING_LIMITS.logMessageChars)}…[cut]` : text;
  return { level: lv, msg: m, fields: readLogFields(fields) };
}

/** Log fields as JSON text from the agent: parsed within the caps, or a marker saying what was cut. Never throws. */
export function readLogFields(fields: unknown): unknown {
  if (fields === undefined || fields === null || fields === 'null') return null;
  if (typeof fields !== 'string') return { cut: true, reason: 'fields did not arrive as text' };
  if (fields.length > CROSSING_LIMITS.logFieldsBytes || utf8Bytes(fields) > CROSSING_LIMITS.logFieldsBytes) {
    return { cut: true, reason: `fields over ${CROSSING_LIMITS.logFieldsBytes} bytes`, size: utf8Bytes(fields.slice(0, 64 * 1024 * 1024)), head: fields.slice(0, 512) };
  }
  try {
    // The prelude may already have replaced oversized fields by its own marker; it passes as data.
    return parseAgentJson(fields, 'log fields', CROSSING_LIMITS.logFieldsBytes);
  } catch (e) {
    return { cut: true, reason: errorShape(e).message };
  }
}

/** What a run answers: its output and clock record, or the agent's error. */
export type RunCrossing =
  | { ok: true; outputJson: string; clock: number[]; clockOverflow: boolean }
  | { ok: false; message: string; code: string | undefined };

/** A string the agent handed back, cut to `max` characters (an error message or code). */
export function clip(value: unknown, max: number): string {
  const s = typeof value === 'string' ? value : '';
  return s.length > max ? `${s.slice(0, max)}…[cut]` : s;
}

/**
 * The in-isolate runner's reply: [text] or [null, message, code]. `maxOutputBytes` cuts the output
 * text before it travels further, with OUTPUT_MARGIN_CHARS to spare (redaction happens before the
 * run manager's cut); only an output within the cap is parsed, here first.
 */
export function readRunReply(reply: unknown, maxOutputBytes: number): RunCrossing {
  if (!Array.isArray(reply) || reply.length < 1 || reply.length > 3) throw bad('the run reply did not arrive in the expected shape');
  const [text, message, code] = reply as unknown[];
  if (text === null) {
    if (typeof message !== 'string') throw bad('the agent error did not arrive as text');
    const c = typeof code === 'string' && /^[a-z][a-z0-9_.-]*$/i.test(code) && code.length <= CROSSING_LIMITS.errorCodeChars ? code : undefined;
    return { ok: false, message: clip(message, CROSSING_LIMITS.errorMessageChars), code: c };
  }
  if (typeof text !== 'string') throw bad('the run result did not arrive as text');
  // {outputJson, clock, clockOverflow} nests two levels; an agent's toJSON on Object.prototype could make it anything.
  if (nestsDeeperThan(text, 2)) throw bad('the run result is not in the expected shape');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('the run result is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('the run result is not an object');
  const { outputJson, clock, clockOverflow } = parsed as Record<string, unknown>;
  if (typeof outputJson !== 'string') throw bad('the run output did not arrive as JSON text');
  const keep = maxOutputBytes + OUTPUT_MARGIN_CHARS;
  const out = outputJson.length > keep ? outputJson.slice(0, keep) : outputJson;
  if (utf8Bytes(out) <= maxOutputBytes) {
    // Output the run manager will parse: it must be JSON within the depth limit.
    if (nestsDeeperThan(out, CROSSING_LIMITS.depth)) throw bad(`the run output is refused: nested deeper than ${CROSSING_LIMITS.depth} levels`);
    let value: unknown;
    try {
      value = JSON.parse(out);
    } catch {
      throw bad('the run output is not valid JSON');
    }
    const problem = checkShape(value);
    if (problem) throw bad(`the run output is refused: ${problem}`);
  }
  return { ok: true, outputJson: out, clock: readClock(clock), clockOverflow: clockOverflow === true };
}

function readClock(clock: unknown): number[] {
  if (clock === undefined) return [];
  if (!Array.isArray(clock)) throw bad('the clock record is not a list');
  if (clock.length > CROSSING_LIMITS.clockEntries) throw bad(`the clock record has more than ${CROSSING_LIMITS.clockEntries} entries`);
  for (const v of clock) if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('the clock record holds a value that is not a finite number');
  return clock as number[];
}

/**
 * Wrap a host function an isolate may call: whatever it throws or rejects with becomes the answer
 * `onError` gives, so an isolated-vm Reference callback never leaves an exception or a rejection behind.
 */
export function guardCallback<A extends unknown[], R>(fn: (...a: A) => R | Promise<R>, onError: (e: unknown) => R): (...a: A) => Promise<R> {
  return async (...a: A): Promise<R> => {
    try {
      return await fn(...a);
    } catch (e) {
      try {
        return onError(e);
      } catch {
        return undefined as R;
      }
    }
  };
}

/** Synchronous variant for fire-and-forget callbacks (logs). */
export function guardSyncCallback<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void {
  return (...a: A): void => {
    try {
      fn(...a);
    } catch {
      /* a log line that cannot be written is dropped, never thrown back across the boundary */
    }
  };
}
