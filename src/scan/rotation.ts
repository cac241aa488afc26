/** Rotation schedules in clawguard configs → longest gap between rotations, in seconds. */
import { parseDurationSeconds, parseRotation, rotationMaxIntervalSeconds } from '../config/index.js';

const NAMED: Record<string, number> = { hourly: 3600, daily: 86400, weekly: 604800, monthly: 2592000, yearly: 31536000, annually: 31536000 };
export const WEEK_SECONDS = 604800;

/** "36h", "1-hour", "2 days", 300 → seconds; undefined when unparseable. */
export const durationSeconds = parseDurationSeconds;

/** Longest interval between two rotations, or undefined when the schedule is not understood. */
export function rotationIntervalSeconds(v: unknown, from = new Date()): number | undefined {
  if (typeof v !== 'string') return durationSeconds(v);
  // The config accepts no "yearly"; the scanner still reads it, to report it as too slow.
  const named = NAMED[v.trim().toLowerCase()];
  if (named) return named;
  const r = parseRotation(v);
  if (!r) return undefined;
  const max = rotationMaxIntervalSeconds(r, from);
  return max > 0 ? max : undefined;
}
