/**
 * Shared benchmark plumbing. Each bench/<area>.ts exports `run(): Promise<BenchSection>`;
 * bench/index.ts runs them all in one process and prints every figure beside its baseline.
 */
export interface BenchRow {
  /** What was measured, e.g. "thread: warm acquisition p50". */
  name: string;
  value: number;
  unit: string;
  /** The baseline measured in the same run, e.g. "new Worker p50". */
  baselineName?: string;
  baselineValue?: number;
  /** Human-readable target from the issue, e.g. "<= 5 ms". */
  target?: string;
  /** Whether the target is met (undefined when there is no target). */
  met?: boolean;
}

export interface BenchSection {
  title: string;
  rows: BenchRow[];
  notes?: string[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarize(samples: number[]): { p50: number; p99: number; mean: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean, n: s.length };
}

/** Time an async function `n` times (after `warmup` untimed calls); returns milliseconds per call. */
export async function timeAsync(n: number, fn: () => Promise<unknown>, warmup = Math.min(20, n)): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** Time a sync function `n` times; returns milliseconds per call. */
export function timeSync(n: number, fn: () => unknown, warmup = Math.min(100, n)): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

export function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return `n/a`;
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toFixed(digits)} ${unit}`;
}

export function renderSection(sec: BenchSection): string {
  const lines = [`\n## ${sec.title}`, '', '| measure | value | baseline (same run) | ratio | target |', '|---|---|---|---|---|'];
  for (const r of sec.rows) {
    const base = r.baselineValue !== undefined ? `${r.baselineName ?? 'baseline'}: ${fmt(r.baselineValue, r.unit)}` : '';
    const ratio = r.baselineValue ? `${(r.value / r.baselineValue).toFixed(2)}x` : '';
    const target = r.target ? `${r.target} ${r.met === undefined ? '' : r.met ? '(met)' : '(NOT met)'}` : '';
    lines.push(`| ${r.name} | ${fmt(r.value, r.unit)} | ${base} | ${ratio} | ${target.trim()} |`);
  }
  for (const n of sec.notes ?? []) lines.push(`\n${n}`);
  return lines.join('\n');
}
