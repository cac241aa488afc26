/** Per-profile counters for `status --agents`: totals by outcome and recent durations. */
export class ProfileStats {
  readonly totals: Record<string, number> = {};
  private readonly durations: number[] = [];
  private next = 0;
  constructor(private readonly window = 1000) {}

  record(outcome: string, durationMs: number): void {
    this.totals[outcome] = (this.totals[outcome] ?? 0) + 1;
    if (this.durations.length < this.window) this.durations.push(durationMs);
    else this.durations[this.next] = durationMs;
    this.next = (this.next + 1) % this.window;
  }

  percentile(p: number): number | null {
    if (this.durations.length === 0) return null;
    const s = [...this.durations].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  }
}
