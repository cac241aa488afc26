/**
 * Pre-started, never-used instances per profile, to hide start-up latency. An instance leaves the
 * pool once, for exactly one run; the pool refills in the background.
 */
import type { AgentInstance, InstanceFactory } from './instance.js';

export class WarmPool {
  private readonly ready: AgentInstance[] = [];
  private filling = 0;
  private closed = false;
  lastError: string | undefined;

  constructor(
    private readonly factory: InstanceFactory,
    private readonly target: number,
    private readonly memoryMb: number,
    private readonly onChange: () => void = () => undefined,
  ) {}

  get size(): number {
    return this.ready.length;
  }

  get healthy(): boolean {
    return this.target === 0 || (this.lastError === undefined && this.factory.available().ok);
  }

  /** A never-used instance: from the pool when one is ready (warm), else created now (cold). */
  async acquire(): Promise<{ instance: AgentInstance; warm: boolean }> {
    let inst = this.ready.shift();
    while (inst && inst.destroyed) inst = this.ready.shift();
    this.onChange();
    // Refill after handing out: spawning a replacement (a fork/exec for process isolation) must not
    // sit on the acquiring run's path.
    setImmediate(() => this.refill());
    if (inst) return { instance: inst, warm: true };
    return { instance: await this.factory.create({ memoryMb: this.memoryMb }), warm: false };
  }

  refill(): void {
    if (this.closed || !this.factory.available().ok) return;
    while (this.ready.length + this.filling < this.target) {
      this.filling++;
      this.factory
        .create({ memoryMb: this.memoryMb })
        .then(
          (inst) => {
            if (this.closed) inst.destroy('shutdown');
            else {
              this.ready.push(inst);
              this.lastError = undefined;
            }
          },
          (e: Error) => {
            this.lastError = e.message;
          },
        )
        .finally(() => {
          this.filling--;
          this.onChange();
        });
      if (this.lastError) break;
    }
  }

  close(): void {
    this.closed = true;
    for (const i of this.ready.splice(0)) i.destroy('shutdown');
    this.onChange();
  }
}
