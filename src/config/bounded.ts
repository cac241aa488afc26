/** Bounded numbers and durations for the config schema: every one ends up in a timer, a buffer or date arithmetic. */
import { z } from 'zod';
import { formatSeconds, parseDurationSeconds } from './durations.js';

/**
 * A duration (seconds, or "90s", "15m", "2h", "7d"), bounded: every duration ends up in a timer or
 * in date arithmetic, and Node fires a timer above about 24.8 days at once. Each key has its own
 * maximum, named in the error.
 */
export const seconds = (maxSeconds: number) =>
  z.union([z.number(), z.string()]).superRefine((v, ctx) => {
    const s = parseDurationSeconds(v);
    if (s === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a positive number of seconds, got ${JSON.stringify(v)}` });
    else if (s > maxSeconds) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected at most ${formatSeconds(maxSeconds)} (${maxSeconds} s), got ${JSON.stringify(v)}` });
  });

export const positiveInt = (what: string, max = Number.MAX_SAFE_INTEGER, maxLabel?: string) =>
  z.unknown().superRefine((v, ctx) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a positive integer (${what}), got ${JSON.stringify(v)}` });
    } else if (v > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected at most ${max} (${what}${maxLabel ? `, ${maxLabel}` : ''}), got ${JSON.stringify(v)}` });
    }
  }) as unknown as z.ZodType<number>;

/** A duration in integer milliseconds, bounded like `seconds`. */
export const millis = (maxSeconds: number) => positiveInt('milliseconds', maxSeconds * 1000, formatSeconds(maxSeconds));
/** A duration in integer seconds, bounded like `seconds`. */
export const intSeconds = (maxSeconds: number) => positiveInt('seconds', maxSeconds, formatSeconds(maxSeconds));

export const nonNegativeInt = (what: string) =>
  z.unknown().superRefine((v, ctx) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a non-negative integer (${what}), got ${JSON.stringify(v)}` });
    }
  }) as unknown as z.ZodType<number>;
