/** Parsing of human durations and rotation schedules used across the config. */
import { Cron } from 'croner';

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "36h", "90s", "1-hour", "15m", "2d", 300 → seconds; undefined when unparseable. */
export function parseDurationSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  const word = /^(\d+(?:\.\d+)?)[- ]?(millisecond|second|minute|hour|day|week)s?$/.exec(s);
  if (word) {
    const map: Record<string, string> = { millisecond: 'ms', second: 's', minute: 'm', hour: 'h', day: 'd', week: 'w' };
    return Number(word[1]) * UNIT_SECONDS[map[word[2]!]!]!;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return n > 0 ? n : undefined;
}

export type RotationSchedule =
  | { kind: 'interval'; seconds: number; label: string }
  | { kind: 'cron'; expression: string; label: string };

const NAMED: Record<string, number> = { hourly: 3600, daily: 86400, weekly: 604800, monthly: 2592000 };

/** "daily" | "weekly" | "36h" | cron ("0 3 * * *") → schedule; undefined when invalid. */
export function parseRotation(v: string): RotationSchedule | undefined {
  const s = v.trim();
  const named = NAMED[s.toLowerCase()];
  if (named) return { kind: 'interval', seconds: named, label: s.toLowerCase() };
  const d = parseDurationSeconds(s);
  if (d !== undefined) return { kind: 'interval', seconds: d, label: s };
  if (s.split(/\s+/).length >= 5) {
    try {
      new Cron(s, { paused: true }).stop();
      return { kind: 'cron', expression: s, label: s };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Longest gap between two rotations, used to compare against "at least weekly". */
export function rotationMaxIntervalSeconds(r: RotationSchedule, from = new Date()): number {
  if (r.kind === 'interval') return r.seconds;
  const cron = new Cron(r.expression, { paused: true });
  let prev = cron.nextRun(from);
  let max = 0;
  // Look across a year so monthly and yearly schedules show their real gap.
  for (let i = 0; i < 400 && prev; i++) {
    const next = cron.nextRun(prev);
    if (!next) break;
    max = Math.max(max, (next.getTime() - prev.getTime()) / 1000);
    prev = next;
    if (next.getTime() - from.getTime() > 400 * 86400_000) break;
  }
  cron.stop();
  return max;
}

/** "24h", "7d", "10m", "90s": a number of seconds as people write it, for messages. */
export function formatSeconds(s: number): string {
  if (s >= 2 * 86400 && s % 86400 === 0) return `${s / 86400}d`;
  for (const [unit, n] of [['h', 3600], ['m', 60]] as const) if (s >= n && s % n === 0) return `${s / n}${unit}`;
  return `${s}s`;
}
