/**
 * What a run keeps of what its agent hands back: redacted whole (the output filter is the secret
 * redactor), then cut to the profile's cap; a cut made first could leave part of a secret unrecognised.
 */
import type { OutputFilter } from '../pipeline/index.js';

/** `v` through the filter (the redactor), or as it is when there is none. */
export function handedBack<T>(v: T, filter: OutputFilter | undefined): T {
  return filter ? (filter.filter(v) as T) : v;
}

/** At most `max` bytes of `s`, never a broken character at the end. */
export function cutUtf8(s: string, max: number): string {
  return Buffer.from(s).subarray(0, max).toString('utf8').replace(/\uFFFD$/, '');
}

/**
 * An output within the cap was checked as JSON where it crossed and is kept as a value; a longer one
 * arrives as text (with a margin past the cap, see OUTPUT_MARGIN_CHARS) and is kept as cut text.
 */
export function keptOutput(outputJson: string, max: number, filter: OutputFilter | undefined): { output: unknown; cut: boolean } {
  if (Buffer.byteLength(outputJson) <= max) {
    const value = handedBack(JSON.parse(outputJson) as unknown, filter);
    const json = JSON.stringify(value) ?? 'null';
    if (Buffer.byteLength(json) <= max) return { output: value, cut: false };
    return { output: cutUtf8(json, max), cut: true };
  }
  return { output: cutUtf8(handedBack(outputJson, filter), max), cut: true };
}
