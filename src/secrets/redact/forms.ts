/**
 * The shapes a secret value takes on its way out: the value itself, JSON-escaped (log lines, nested),
 * URL-encoded (percent and form), hex (both cases), base64 and base64url — padded, unpadded, and at
 * each of the three byte alignments it can have inside a longer encoded string (only the
 * characters fully determined by the secret's own bytes, so it is found wherever it sits).
 */

/** Shorter patterns than this are not redacted: they would match ordinary text. */
export const MIN_PATTERN_LENGTH = 6;

function alignedCores(bytes: Buffer, url: boolean): string[] {
  const out: string[] = [];
  const n = bytes.length;
  for (let k = 0; k < 3; k++) {
    const padded = Buffer.concat([Buffer.alloc(k), bytes]);
    const b64 = padded.toString(url ? 'base64url' : 'base64').replace(/=+$/, '');
    const start = Math.ceil((8 * k) / 6);
    const end = Math.floor((8 * k + 8 * n) / 6);
    if (end > start) out.push(b64.slice(start, end));
  }
  return out;
}

const lowerHex = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());

/** The patterns of `value`; none for a value shorter than MIN_PATTERN_LENGTH (it would match ordinary text). */
export function formsOf(value: string): string[] {
  if (value.length < MIN_PATTERN_LENGTH) return [];
  const bytes = Buffer.from(value, 'utf8');
  const std = bytes.toString('base64');
  const url = bytes.toString('base64url');
  const pct = encodeURIComponent(value);
  // RFC 3986 strict (also !'()*) and HTML-form encoding (application/x-www-form-urlencoded).
  const strict = pct.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  const hex = bytes.toString('hex');
  // JSON string escaping, nested up to three levels (JSON in a JSON string in a log line).
  const esc = (s: string) => JSON.stringify(s).slice(1, -1);
  const forms = [
    value,
    esc(value),
    esc(esc(value)),
    esc(esc(esc(value))),
    pct,
    lowerHex(pct),
    pct.replace(/%20/g, '+'),
    strict,
    lowerHex(strict),
    form,
    lowerHex(form),
    hex,
    hex.toUpperCase(),
    std,
    std.replace(/=+$/, ''),
    url,
    ...alignedCores(bytes, false),
    ...alignedCores(bytes, true),
  ];
  return [...new Set(forms)].filter((f) => f.length >= MIN_PATTERN_LENGTH);
}
