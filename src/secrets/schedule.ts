/** When a rotation is due, and whether it is overdue. Cron expressions are evaluated in UTC. */
import { Cron } from 'croner';
import type { RotationSchedule } from '../config/index.js';

/** A rotation later than this after its due time is "missed" (an event) and the secret "overdue". */
export const MISSED_AFTER_MS = 120_000;

const crons = new Map<string, Cron>();

function cron(expression: string): Cron {
  let c = crons.get(expression);
  if (!c) {
    c = new Cron(expression, { paused: true, timezone: 'UTC' });
    crons.set(expression, c);
  }
  return c;
}

/** The first due time after the last rotation (ms), or null when the schedule has no next run. */
export function nextDue(schedule: RotationSchedule, lastRotatedAt: number): number | null {
  if (schedule.kind === 'interval') return lastRotatedAt + schedule.seconds * 1000;
  const next = cron(schedule.expression).nextRun(new Date(lastRotatedAt));
  return next ? next.getTime() : null;
}

export function isOverdue(due: number | null, now: number): boolean {
  return due !== null && now > due + MISSED_AFTER_MS;
}

/** How long to wait before re-reading a read-only source that missed its rotation, or retrying a failed one. */
export function retryDelayMs(schedule: RotationSchedule, failures: number): number {
  const interval = schedule.kind === 'interval' ? schedule.seconds * 1000 : 3_600_000;
  const base = Math.min(Math.max(interval / 24, 60_000), 3_600_000);
  return Math.min(base * 2 ** Math.min(failures, 6), 6 * 3_600_000);
}
