/**
 * Code evaluated inside every agent instance before the agent module. It builds the frozen
 * `ctx` (runId, profile, signal, log, tools.call, model.chat), seeds Math.random and routes the
 * clock through a recorder. Host references arrive as closure arguments, never as globals.
 * Shared by the isolate (thread) and the child process (process) levels.
 */
export const AGENT_PRELUDE = String.raw`
function cgPrelude(host, profile, seed, replayClock, record) {
  'use strict';
  let s = seed >>> 0;
  Math.random = function random() {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
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
      if (v === undefined) throw new Error('replay: the agent read the clock more often than recorded');
    } else v = realNow();
    if (record) {
      if (clock.length < MAX_CLOCK) clock.push(v);
      else clockOverflow = true;
    }
    return v;
  }
  class CgDate extends RealDate {
    constructor(...a) { if (a.length === 0) super(now()); else super(...a); }
    static now() { return now(); }
  }
  globalThis.Date = CgDate;

  let current = null;
  function abort() {
    const c = current;
    if (!c || c.signal.aborted) return;
    c.signal.aborted = true;
    c.signal.reason = new Error('run aborted');
    for (const fn of c.listeners.slice()) { try { fn(); } catch {} }
  }
  async function call(kind, name, args) {
    if (typeof name !== 'string') throw new TypeError('tool name must be a string');
    const text = await host.call(kind, name, JSON.stringify(args === undefined ? null : args));
    return JSON.parse(text);
  }
  function logAt(level) {
    return function (msg, fields) { host.log(level, String(msg), fields === undefined ? 'null' : JSON.stringify(fields)); };
  }
  const log = Object.freeze(Object.assign(logAt('info'), { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') }));
  const tools = Object.freeze({ call: (name, args) => call('tool', name, args) });
  const model = Object.freeze({
    chat: async (request) => {
      const r = await call('model', 'chat', request);
      if (r && r.ok === false) { const e = new Error(r.error.message); e.code = r.error.code; throw e; }
      return r.result;
    },
  });
  function makeCtx(runId) {
    const listeners = [];
    const signal = {
      aborted: false,
      reason: undefined,
      addEventListener(type, fn) { if (type === 'abort' && typeof fn === 'function') listeners.push(fn); },
      removeEventListener(type, fn) { const i = listeners.indexOf(fn); if (i >= 0) listeners.splice(i, 1); },
      throwIfAborted() { if (signal.aborted) throw new Error('run aborted'); },
    };
    current = { signal, listeners };
    return Object.freeze({ runId, profile, signal, log, tools, model });
  }

  async function runAgent(ns, inputJson, runId) {
    const ctx = makeCtx(runId);
    clock.length = 0;
    const fn = ns && ns.default;
    if (typeof fn !== 'function') {
      const e = new Error('the agent module must export a default async function (input, ctx)');
      e.code = 'agent_invalid';
      throw e;
    }
    const out = await fn(JSON.parse(inputJson), ctx);
    let outputJson;
    try { outputJson = JSON.stringify(out === undefined ? null : out); } catch (e) {
      const err = new Error('the agent returned a value that is not JSON-serializable: ' + e.message);
      err.code = 'output_invalid';
      throw err;
    }
    return JSON.stringify({ outputJson: outputJson === undefined ? 'null' : outputJson, clock, clockOverflow });
  }
  return { runAgent, abort, clock };
}
`;
