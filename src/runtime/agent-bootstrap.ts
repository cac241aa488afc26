/**
 * Code evaluated inside every agent instance before the agent module. It builds the frozen
 * `ctx` (runId, profile, signal, log, tools.call, model.chat), seeds Math.random and routes the
 * clock through a recorder. Host references arrive as closure arguments, never as globals.
 * Shared by the isolate (thread) and the child process (process) levels.
 *
 * The agent may replace any global or prototype method before it calls ctx (JSON.stringify,
 * Array.prototype.push, String, Error...). So the prelude takes its own copies of the primitives it
 * uses while it is set up, before agent code runs, and calls only those afterwards. This protects
 * the agent's view of ctx; the host still treats everything that crosses as hostile (crossing.ts).
 */
export const AGENT_PRELUDE = String.raw`
function cgPrelude(host, profile, seed, replayClock, record) {
  'use strict';
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const Str = String;
  const Err = Error;
  const TypeErr = TypeError;
  const freeze = Object.freeze;
  const defineProperty = Object.defineProperty;
  const apply = Reflect.apply;
  const strSlice = String.prototype.slice;
  const imul = Math.imul;
  // Log lines are capped before they cross (the host caps them again): a message to 4096
  // characters, the serialised fields to 16 KiB, past which a marker saying so is sent instead.
  const MAX_LOG_MSG = 4096;
  const MAX_LOG_FIELDS = 16384;
  let s = seed >>> 0;
  Math.random = function random() {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Clock readings are kept only for deterministic runs, and only up to a bound (a busy loop on
  // Date.now() must not turn into a memory bomb); past it the record is marked incomplete.
  const MAX_CLOCK = 100000;
  const clock = [];
  let clockOverflow = false;
  let ci = 0;
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  function now() {
    let v;
    if (replayClock) {
      v = replayClock[ci++];
      if (v === undefined) throw new Err('replay: the agent read the clock more often than recorded');
    } else v = realNow();
    if (record) {
      if (clock.length < MAX_CLOCK) defineProperty(clock, clock.length, { value: v, writable: true, enumerable: true, configurable: true });
      else clockOverflow = true;
    }
    return v;
  }
  class CgDate extends RealDate {
    constructor(...a) { if (a.length === 0) super(now()); else super(...a); }
    static now() { return now(); }
  }
  globalThis.Date = CgDate;

  /** Errors the prelude raises carry a code; set as own data so no prototype setter runs. */
  function codedError(message, code) {
    const e = new Err(message);
    defineProperty(e, 'code', { value: code, writable: true, enumerable: true, configurable: true });
    return e;
  }

  let current = null;
  function abort() {
    const c = current;
    if (!c || c.signal.aborted) return;
    c.signal.aborted = true;
    c.signal.reason = new Err('run aborted');
    const fns = [];
    for (let i = 0; i < c.listeners.length; i++) defineProperty(fns, i, { value: c.listeners[i], enumerable: true });
    for (let i = 0; i < fns.length; i++) { try { fns[i](); } catch {} }
  }
  async function call(kind, name, args) {
    if (typeof name !== 'string') throw new TypeErr('tool name must be a string');
    const text = await host.call(kind, name, stringify(args === undefined ? null : args));
    return parse(text);
  }
  function cut(text, max) { return text.length > max ? apply(strSlice, text, [0, max]) : text; }
  function logAt(level) {
    return function (msg, fields) {
      let m;
      try { m = cut(typeof msg === 'string' ? msg : Str(msg), MAX_LOG_MSG); } catch { m = '[a log message that cannot be turned into text]'; }
      let f = 'null';
      if (fields !== undefined) {
        try {
          const t = stringify(fields);
          if (typeof t === 'string') f = t.length > MAX_LOG_FIELDS ? stringify({ cut: true, reason: 'fields over ' + MAX_LOG_FIELDS + ' characters', size: t.length, head: cut(t, 512) }) : t;
        } catch (e) {
          f = stringify({ cut: true, reason: 'fields cannot be serialised' });
        }
      }
      host.log(level, m, f);
    };
  }
  const log = freeze(Object.assign(logAt('info'), { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') }));
  const tools = freeze({ call: (name, args) => call('tool', name, args) });
  const model = freeze({
    chat: async (request) => {
      const r = await call('model', 'chat', request);
      if (r && r.ok === false) throw codedError(r.error.message, r.error.code);
      return r.result;
    },
  });
  function makeCtx(runId) {
    const listeners = [];
    const signal = {
      aborted: false,
      reason: undefined,
      addEventListener(type, fn) { if (type === 'abort' && typeof fn === 'function') defineProperty(listeners, listeners.length, { value: fn, writable: true, enumerable: true, configurable: true }); },
      removeEventListener(type, fn) {
        let w = 0;
        for (let i = 0; i < listeners.length; i++) if (listeners[i] !== fn) listeners[w++] = listeners[i];
        listeners.length = w;
      },
      throwIfAborted() { if (signal.aborted) throw new Err('run aborted'); },
    };
    current = { signal, listeners };
    return freeze({ runId, profile, signal, log, tools, model });
  }

  async function runAgent(ns, inputJson, runId) {
    const ctx = makeCtx(runId);
    clock.length = 0;
    const fn = ns && ns.default;
    if (typeof fn !== 'function') throw codedError('the agent module must export a default async function (input, ctx)', 'agent_invalid');
    const out = await fn(parse(inputJson), ctx);
    let outputJson;
    try { outputJson = stringify(out === undefined ? null : out); } catch (e) {
      let why;
      try { why = Str(e && e.message); } catch { why = 'unknown'; }
      throw codedError('the agent returned a value that is not JSON-serializable: ' + why, 'output_invalid');
    }
    return stringify({ outputJson: outputJson === undefined ? 'null' : outputJson, clock, clockOverflow });
  }
  return { runAgent, abort, clock };
}
`;
