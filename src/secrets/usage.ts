/** A sliding 24-hour count in hourly buckets (memory only: the audit log is the durable record of every use). */
const HOUR = 3_600_000;

export class DayWindow {
  private readonly buckets = new Map<number, number>();

  add(now: number): void {
    const h = Math.floor(now / HOUR);
    this.buckets.set(h, (this.buckets.get(h) ?? 0) + 1);
    if (this.buckets.size > 26) for (const k of this.buckets.keys()) if (k <= h - 24) this.buckets.delete(k);
  }

  count(now: number): number {
    const h = Math.floor(now / HOUR);
    let n = 0;
    for (const [k, v] of this.buckets) if (k > h - 24) n += v;
    return n;
  }
}
