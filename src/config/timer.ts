/**
 * Timers for durations that come from configuration. Node clamps a delay above 2^31-1 ms (about
 * 24.8 days) to 1 ms, so `setTimeout(fn, 30 days)` fires at once; the config schema bounds every
 * duration well below that, and this helper makes a longer delay wait in steps instead of firing.
 */
import { ClawguardError } from '../errors/index.js';

/** The longest delay Node's timers honour. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimeout {
  clear(): void;
  /** Let the process exit while this timer waits (as Timeout.unref). */
  unref(): this;
}

/** setTimeout for any finite delay >= 0, split into steps the timer honours. A delay that is not a finite number is refused. */
export function setLongTimeout(fn: () => void, ms: number): LongTimeout {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new ClawguardError('internal', `timer delay must be a finite number of milliseconds >= 0, got ${String(ms)}`);
  // Monotonic: a wall-clock change neither fires the timer early nor delays it.
  const due = performance.now() + ms;
  let t: NodeJS.Timeout;
  let unref = false;
  const arm = (left: number) => {
    t = setTimeout(() => {
      const rest = due - performance.now();
      if (rest >= 1) arm(rest);
      else fn();
    }, Math.min(left, MAX_TIMER_MS));
    if (unref) t.unref();
  };
  arm(ms);
  const handle: LongTimeout = {
    clear: () => clearTimeout(t),
    unref() {
      unref = true;
      t.unref();
      return handle;
    },
  };
  return handle;
}
