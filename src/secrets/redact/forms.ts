/**
 * The shapes a secret value takes on its way out: the value itself; JSON-escaped as JavaScript,
 * PHP ("\/"), Python (ASCII only) and Go (HTML-safe) write it, nested up to three levels;
 * HTML/XML-escaped; URL-encoded (percent, strict, form, and as the URL parser leaves it in a path or
 * query); hex (both cases); base64 and base64url — padded, unpadded, and at each of the three byte
 * alignments it can have inside a longer encoded string (only the characters fully determined by
 * the secret's own bytes, so it is found wherever it sits).
 *
 * And its fragments: anchors that find a substantial part of a value (see fragmentAnchorsOf).
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
const jsEsc = (s: string) => JSON.stringify(s).slice(1, -1);
const u4 = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON escapings other serialisers produce for the same string. */
function jsonVariants(value: string): string[] {
  const js = jsEsc(value);
  return [
    js.replace(/\//g, '\\/'), // PHP json_encode
    js.replace(/[^\x00-\x7f]/g, u4), // Python json.dumps (ensure_ascii)
    js.replace(/[<>&\u2028\u2029]/g, u4), // Go encoding/json
  ];
}

function htmlVariants(value: string): string[] {
  const base = value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return [base.replace(/'/g, '&#39;'), base.replace(/'/g, '&#x27;').replace(/\//g, '&#x2F;'), base.replace(/'/g, '&apos;')];
}

/** The value as the WHATWG URL parser leaves it in a path and in a query (it escapes fewer characters than encodeURIComponent). */
function urlParserForms(value: string): string[] {
  if (/^[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(value)) return []; // left as is in both
  let path = '';
  let query = '';
  for (const c of value) {
    if (/[A-Za-z0-9._~-]/.test(c)) {
      path += c;
      query += c;
      continue;
    }
    if (c === '?' || c === '#') {
      path += encodeURIComponent(c);
      query += c === '#' ? '%23' : c;
      continue;
    }
    try {
      // Between two letters: the parser trims spaces and controls at the ends of its input.
      path += new URL(`http://x/a${c}b`).pathname.slice(2, -1);
      query += new URL(`http://x/?a${c}b`).search.slice(2, -1);
    } catch {
      return [];
    }
  }
  return [path, query];
}

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
  const forms = [
    value,
    jsEsc(value),
    jsEsc(jsEsc(value)),
    jsEsc(jsEsc(jsEsc(value))),
    ...jsonVariants(value),
    ...htmlVariants(value),
    pct,
    lowerHex(pct),
    pct.replace(/%20/g, '+'),
    strict,
    lowerHex(strict),
    form,
    lowerHex(form),
    ...urlParserForms(value),
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

/** One anchor: `text` found at position p means the form it belongs to would sit at [p - offset, p - offset + formLength). */
export interface FragmentAnchor {
  text: string;
  offset: number;
  formLength: number;
}

/** Bits an attacker must guess at once for one block: 2^48 guesses through a redactor is out of reach. */
const BLOCK_BITS = 48;

/** Characters of `s` that carry BLOCK_BITS, from the size of the alphabet it draws on. */
export function blockSize(s: string): number {
  let alphabet: number;
  if (/^[0-9a-f]+$/.test(s) || /^[0-9A-F]+$/.test(s)) alphabet = 16;
  else {
    alphabet = 0;
    if (/[0-9]/.test(s)) alphabet += 10;
    if (/[a-z]/.test(s)) alphabet += 26;
    if (/[A-Z]/.test(s)) alphabet += 26;
    if (/[^0-9A-Za-z]/.test(s)) alphabet += 33;
  }
  return Math.max(8, Math.ceil(BLOCK_BITS / Math.log2(Math.max(alphabet, 2))));
}

/**
 * Anchors for the partial-value rule. A form is cut into blocks of b characters (b carries 48 bits,
 * see blockSize); every two consecutive blocks (2b characters, starting at a multiple of b) are an
 * anchor. Any run of 3b − 1 or more characters of the form contains one, so such a run — at the
 * form's start, end or middle — is found. When one is found, the whole place where the form would
 * sit is redacted, not the run: what comes out depends only on which anchor matched, never on how
 * far the match went, so an agent probing with guesses next to a known part learns nothing beyond
 * one anchor, and each anchor costs 2^48 guesses from scratch. Two blocks, not one, so that a
 * public prefix ("sk-proj-", "ghp_") is never an anchor by itself.
 *
 * Anchored forms: the value and its JSON escapings — the ones a server shows cut short ("invalid
 * key sk-live-abc…"). Encoded forms (base64, hex) are found whole only: a server that cuts a base64
 * echo short is rare, and each anchored form costs redaction throughput on every string.
 */
export function fragmentAnchorsOf(value: string): FragmentAnchor[] {
  if (value.length < MIN_PATTERN_LENGTH) return [];
  const forms = new Set([value, jsEsc(value), ...jsonVariants(value)]);
  const out: FragmentAnchor[] = [];
  for (const f of forms) {
    const b = blockSize(f);
    // A form of two blocks or fewer is only ever found whole.
    for (let j = 0; j + 2 * b <= f.length && f.length > 2 * b; j += b) out.push({ text: f.slice(j, j + 2 * b), offset: j, formLength: f.length });
  }
  return out;
}
