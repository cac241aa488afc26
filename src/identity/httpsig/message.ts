/** The request as RFC 9421 sees it: method, target URI, header field lines in order, body bytes. */

export interface SignedRequest {
  method: string;
  /** Absolute target URI, e.g. "https://gateway.example:18789/v1/tools/fs.read?x=1". */
  targetUri: string;
  /** Field lines in the order received; names in any case. Repeated names are separate lines. */
  headers: ReadonlyArray<readonly [string, string]>;
  body?: Uint8Array;
}

/** Accepts a header record (as most HTTP clients take them) or field lines. */
export function fieldLines(h: Record<string, string | string[] | undefined> | ReadonlyArray<readonly [string, string]>): Array<readonly [string, string]> {
  if (Array.isArray(h)) return [...(h as ReadonlyArray<readonly [string, string]>)];
  const out: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(h as Record<string, string | string[] | undefined>)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one]);
  }
  return out;
}

/** Values of every field line with this (case-insensitive) name, in order, trimmed. */
export function fieldValues(headers: SignedRequest['headers'], name: string): string[] {
  const n = name.toLowerCase();
  const out: string[] = [];
  for (const [k, v] of headers) if (sameName(k, n)) out.push(v.trim());
  return out;
}

/** `k` equals the lowercase name `n` ignoring case; the length test spares most lowercasing. */
const sameName = (k: string, n: string) => k.length === n.length && (k === n || k.toLowerCase() === n);

/** The combined value of a field (RFC 9110 §5.3): lines joined with ", "; undefined when absent. */
export function fieldValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = fieldValues(headers, name);
  return v.length ? v.join(', ') : undefined;
}

/** Node's `rawHeaders` ([name, value, name, value, …]) as field lines. */
export function fromRawHeaders(raw: readonly string[]): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}
