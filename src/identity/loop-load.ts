/**
 * Whether the event loop is busy: its utilisation over the last 100 ms above 95% (the loop is the bottleneck). Work that
 * can move to another thread (Ed25519 verification) moves only then; an idle loop does it inline,
 * which has the lower latency. The sampling timer never keeps the process alive.
 */
import { performance } from 'node:perf_hooks';

const BUSY_UTILISATION = 0.95;
const SAMPLE_MS = 100;

export class LoopLoad {
  private timer: NodeJS.Timeout | undefined;
  private last = performance.eventLoopUtilization();
  busy = false;

  watch(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.busy = performance.eventLoopUtilization(now, this.last).utilization > BUSY_UTILISATION;
      this.last = now;
    }, SAMPLE_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.busy = false;
  }
}
