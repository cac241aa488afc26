/** Rotation schedules in clawguard configs → longest gap between rotations, in seconds. */
import { Cron } from 'croner';

const NAMED: Record<string, number> = { hourly: 3600, daily: 86400, weekly: 604800, monthly: 2592000, yearly: 31536000, annually: 31536000 };
const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const WORD_UNIT: Record<string, string> = { millisecond: 'ms', second: 's', minute: 'm', hour: 'h', day: 'd', week: 'w' };

export const WEEK_SECONDS = 604800;

/** "36h", "1-hour", "2 days", 300 → seconds; undefined when unparseable. */
export function durationSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  const w = /^(\d+(?:\.\d+)?)[- ]?(millisecond|second|minute|hour|day|week)s?$/.exec(s);
  if (w) return Number(w[1]) * UNIT[WORD_UNIT[w[2]!]!]!;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(s);
  return m ? Number(m[1]) * UNIT[m[2]!]! : undefined;
}

/** Longest interval between two rotations, or undefined when the schedule is not understood. */
export function rotationIntervalSeconds(v: unknown, from = new Date()): number | undefined {
  if (typeof v !== 'string') return durationSeconds(v);
  const named = NAMED[v.trim().toLowerCase()];
  if (named) return named;
  const d = durationSeconds(v);
  if (d !== undefined) return d;
  if (v.trim().split(/\s+/).length < 5) return undefined;
  try {
    const cron = new Cron(v.trim(), { paused: true });
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
    return max > 0 ? max : undefined;
  } catch {
    return undefined;
  }
}
