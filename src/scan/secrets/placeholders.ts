/**
 * Values that look like secrets but are not: vendors' published example keys, documentation
 * placeholders, low-entropy fillers. Kept separate so the rules stay readable.
 */
import { createHash } from 'node:crypto';
import { entropy } from '../text.js';

/**
 * Vendor-published example keys that appear in public SDKs and docs and grant nothing:
 * the Firebase Android SDK's sample API keys, and Algolia's public search-only key for the npm
 * index (used by yarn and many docs sites). Stored as truncated SHA-256 so that scanning this
 * repository does not flag its own allowlist. Users add their own with `clawguard:allow`.
 */
const KNOWN_PUBLIC = new Set([
  '2037abcaffb2b77785da716cf7ccff4f', '3f370c9dd8225c63b5c77de1f785edc9', 'e4a5542bb7fd7b67e943c71ad29c34b5',
  'a19f89ab3555eac10c40741f6df79ecf', '0b476bdf9acf2123d547b5ae76f1e598', 'eb540d2b6ee2a0a47c5779bc8a014178',
  '37f8f09bdf12c2f2eae4ead7273a62dd', '8731261cb72d86267a32a532ebd3df42', '49f777db995e8260da7ca9ffdf0c08d6',
  '27a9a42931dff7eb2f8434e20a9bce97', 'dc0fcf046c61640cbd1e8b999ada3262', '4c98242dcadc8b29005c6b4aad526552',
  'ea9bb1082cf95663f5faca23b8b15ef2', '3a8b61d0f636b007840c0d40ba12bcf4', 'a6c814bc555ae62c7bd8b58ec07bf559',
  '2f21fd9c81678e396751af8b2472e2bd',
]);

export function isKnownPublicExample(value: string): boolean {
  return KNOWN_PUBLIC.has(createHash('sha256').update(value).digest('hex').slice(0, 32));
}

/** Lines carrying one of these markers are never reported (ours, and the two common conventions for secrets). */
export const INLINE_ALLOW = /clawguard:allow|pragma: ?allowlist secret|gitleaks:allow/;

const SEQUENCES = ['abcdefghij', 'bcdefghijk', 'klmnopqrst', 'qrstuvwxyz', '0123456789', '123456789', 'qwertyuiop', 'asdfghjkl'];

/** Alphabet runs and keyboard walks: documentation fillers, character tables. */
export function hasSequence(value: string): boolean {
  const v = value.toLowerCase();
  return SEQUENCES.some((s) => v.includes(s));
}

/** The same short unit repeated (XXXX, TESTTESTTEST, abcabcabc). */
export function isRepetitive(value: string): boolean {
  const v = value.toLowerCase();
  for (let unit = 1; unit <= 4; unit++) {
    if (v.length < unit * 3) break;
    const u = v.slice(0, unit);
    let same = 0;
    for (let i = 0; i + unit <= v.length; i += unit) if (v.slice(i, i + unit) === u) same++;
    if (same * unit >= v.length * 0.7) return true;
  }
  return false;
}

const PLACEHOLDER_WORDS = /example|placeholder|changeme|change[_-]me|replace[_-]?me|redacted|dummy|your[_-]|<[^>]*>|x{5,}|\*{4,}|\.{4,}|_{5,}|#{4,}/i;

/** Documentation-style fillers: EXAMPLE keys, "your_api_key", "xxxxx", "<token>". */
export function looksLikePlaceholder(value: string): boolean {
  return PLACEHOLDER_WORDS.test(value) || isRepetitive(value) || hasSequence(value);
}

/** Shannon entropy of `value` is at least `min` bits/char. */
export function randomEnough(value: string, min: number): boolean {
  return entropy(value) >= min;
}

const VOWELS = /[aeiouy]/g;

/** Split into lowercase words: snake_case, kebab-case, dotted, camelCase and UPPER runs. */
export function splitWords(s: string): string[] {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/**
 * Share of the value made of pronounceable words ("SalesResults", "DOC_Vector"). Random tokens
 * split into consonant clusters and fragments, so this stays low for them.
 */
export function wordShare(value: string): number {
  let inWords = 0;
  for (const part of value.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2').split(/[^A-Za-z]+/)) {
    if (part.length < 3) continue;
    const w = part.toLowerCase();
    const v = (w.match(VOWELS) ?? []).length;
    const ratio = v / w.length;
    if (ratio < 0.2 || ratio > 0.6) continue;
    if (/[^aeiouy]{4,}/.test(w) || /[aeiouy]{3,}/.test(w)) continue;
    inWords += part.length;
  }
  return value.length === 0 ? 0 : inWords / value.length;
}
