/**
 * Generic secrets: a value assigned to a name that says it is a secret (api_key = "...",
 * "client_secret": "...", PASSWORD=...), kept only when the value itself looks like one.
 * The name decides what the value is (the last word must be key/token/secret/password/...,
 * so key_id, token_url, secret_name are not secrets); the value decides whether it is real
 * (random enough, not a reference, path, placeholder or piece of code).
 */
import { entropy } from '../text.js';
import { GENERIC_RULES } from './rules.js';
import { hasSequence, isKnownPublicExample, looksLikePlaceholder, splitWords, wordShare } from './placeholders.js';

export interface GenericHit {
  ruleId: string;
  title: string;
  /** Value span in the text. */
  start: number;
  end: number;
  value: string;
  name: string;
}

const SECRET_WORDS = new Set([
  'key', 'apikey', 'token', 'apitoken', 'authtoken', 'accesstoken', 'secret', 'clientsecret', 'secretkey', 'accesskey',
  'privatekey', 'password', 'passwd', 'pwd', 'pass', 'passphrase', 'credential', 'credentials', 'creds', 'cred', 'auth', 'authorization',
]);
const PASSWORD_WORDS = new Set(['password', 'passwd', 'pwd', 'pass', 'passphrase']);

/** A qualifier right before "key"/"token" that names a non-secret kind of key (database, UI, protocol). */
const NOT_SECRET_QUALIFIERS = new Set([
  'public', 'pub', 'primary', 'foreign', 'sort', 'partition', 'range', 'hash', 'cache', 'map', 'row', 'unique', 'composite',
  'lookup', 'idempotency', 'dedup', 'dedupe', 'csrf', 'xsrf', 'page', 'next', 'continuation', 'cancellation', 'object',
  'hot', 'shortcut', 'index', 'shard', 'routing', 'group', 'message', 'translation', 'i18n', 'locale', 'column', 'field',
  'table', 'attribute', 'property', 'registry', 'sequence', 'schema', 'natural', 'surrogate', 'react', 'list', 'dict',
  'gpg', 'pgp', 'sync', 'sitekey', 'site', 'recaptcha', 'turnstile', 'publishable',
]);

const NOT_VALUES = new Set(['password', 'secret', 'changeit', 'admin', 'root', 'test', 'none', 'null', 'undefined', 'string', 'required', 'optional', 'hidden', 'masked', 'true', 'false']);

const REFERENCE = /^(?:\$|%[A-Za-z_]|\{\{|<%|#\{|@\{|env:|vault:|secret:|secretref:|arn:|urn:|ref\+|op:\/\/|projects\/|sm:\/\/|awssm:|gcpsm:|ENC\[)/i;
const REFERENCE_ANYWHERE = /\$\{|\{\{|\$\(|process\.env|os\.environ|getenv|ENV\[/;
const DOTTED_IDENT = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;
const LETTERS_IDENT = /^[A-Za-z_$]+$/;
const PATHLIKE = /^(?:\/|\.{1,2}\/|~\/|[A-Za-z]:\\|\\\\)/;
const FILE_EXT = /\.(?:pem|key|crt|cer|p12|pfx|jks|keystore|keytab|der|pub|json|ya?ml|toml|txt|env|conf|cfg|ini|xml|properties|js|ts|py|sh|rb|go|java|html?|png|jpe?g|svg|gpg|asc|sock)$/i;
const EMAIL = /^[^@\s]+@[\w-]+(?:\.[\w-]+)+$/;
const AWS_SECRET_VALUE = /^[A-Za-z0-9/+]{40}$/;
/** Demo values name themselves: "secret123", "my-secret-passphrase", "db-password", "pa$$word". */
const SELF_NAMED = /secret|passw(?:or)?d|pa\$\$w|passphrase|token|apikey|api[_-]key/i;

function charTable(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (const ch of chars) t[ch.charCodeAt(0)] = 1;
  return t;
}
/** Characters that end an unquoted value, or a word inside an unterminated quote. */
const ENDS_BARE = charTable(' \t\r\n\f\v\'"`,;)}]<>');
const ENDS_WORD = charTable(' \t\r\n\f\v\'"`');

function isIdentChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

function isQuote(ch: string | undefined): ch is string {
  return ch === '"' || ch === "'" || ch === '`';
}

function charClasses(v: string): number {
  return (/[a-z]/.test(v) ? 1 : 0) + (/[A-Z]/.test(v) ? 1 : 0) + (/[0-9]/.test(v) ? 1 : 0) + (/[^A-Za-z0-9]/.test(v) ? 1 : 0);
}

/** base64 text that decodes to readable ASCII: the decoded text, else undefined. */
function decodedText(value: string): string | undefined {
  if (!/^[A-Za-z0-9+/]{12,}={0,2}$/.test(value)) return undefined;
  const t = Buffer.from(value, 'base64').toString('latin1');
  let printable = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c >= 32 && c < 127) printable++;
  }
  return t.length > 0 && printable / t.length > 0.95 ? t : undefined;
}

/** base64 of 00 01 02 03 ... (a documentation sample), or of one repeated byte. */
function decodesToCounting(value: string): boolean {
  if (!/^[A-Za-z0-9+/]{16,}={0,2}$/.test(value)) return false;
  const b = Buffer.from(value, 'base64');
  if (b.length < 8) return false;
  const step = (b[1]! - b[0]! + 256) % 256;
  let same = 0;
  for (let i = 1; i < b.length; i++) if ((b[i]! - b[i - 1]! + 256) % 256 === step) same++;
  return same >= (b.length - 1) * 0.9;
}

/** DER SubjectPublicKeyInfo (SEQUENCE { SEQUENCE { OID ... } ... }) in base64: a public key. */
function isPublicKeyDer(value: string): boolean {
  if (!/^MI|^MF|^MC|^MD|^ME/.test(value)) return false;
  const b = Buffer.from(value.slice(0, 24), 'base64');
  if (b[0] !== 0x30) return false;
  const lenBytes = b[1]! & 0x80 ? (b[1]! & 0x7f) : 0;
  const inner = 2 + lenBytes;
  return b[inner] === 0x30 && b[inner + 2] === 0x06;
}

/** Is `value`, assigned to a name of class `pw` (password) or not, plausibly a real secret? */
export function plausibleSecretValue(value: string, pw: boolean): boolean {
  if (value.length < (pw ? 8 : 16) || value.length > 300) return false;
  if (/[\s"'`]/.test(value)) return false;
  if (/^[\d.:-]+$/.test(value) || /^[\w$.]+\[/.test(value)) return false; // versions, OIDs, addresses; indexing expressions
  if (SELF_NAMED.test(value)) return false;
  const decoded = decodedText(value);
  if (decoded && (SELF_NAMED.test(decoded) || looksLikePlaceholder(decoded) || /\s\w+\s/.test(decoded))) return false; // base64 of a sentence
  if (isPublicKeyDer(value) || decodesToCounting(value)) return false;
  if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(value)) return false; // a constant's name or a doc placeholder: STRING_VALUE, YOUR_API_KEY
  if (REFERENCE.test(value) || REFERENCE_ANYWHERE.test(value)) return false;
  if (value.includes('://') || PATHLIKE.test(value) || FILE_EXT.test(value) || EMAIL.test(value)) return false;
  if (DOTTED_IDENT.test(value)) return false;
  if (NOT_VALUES.has(value.toLowerCase())) return false;
  if (looksLikePlaceholder(value) || isKnownPublicExample(value)) return false;
  if (pw) {
    if (/^[\w.$]+\(/.test(value)) return false;
    return entropy(value) >= 2.5 && charClasses(value) >= 2 && wordShare(value) < 0.8;
  }
  if (/[(){}<>[\]]/.test(value)) return false;
  if (/^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]{1,11}){2,}$/.test(value) && value.split('_').every((p) => p.length < 12)) return false; // snake_case identifier
  const hasDigit = /[0-9]/.test(value);
  const mixedCase = /[a-z]/.test(value) && /[A-Z]/.test(value);
  if (!hasDigit && !(value.length >= 16 && mixedCase && entropy(value) >= 4)) return false;
  return entropy(value) >= 3.3 && wordShare(value) < 0.5;
}

/**
 * Look at the keyword found at [pos, pos+len): find the whole name around it, an assignment
 * operator after it and the value. `next` is where scanning may continue (end of the name).
 */
export function genericAt(text: string, pos: number, len: number, unquotedOk: boolean): { hit?: GenericHit; next: number } {
  let s = pos;
  while (s > 0 && isIdentChar(text.charCodeAt(s - 1)) && pos - s < 80) s--;
  let e = pos + len;
  while (e < text.length && isIdentChar(text.charCodeAt(e)) && e - s < 120) e++;
  const next = e;
  // Fast path: the last word of the name (ignoring trailing digits and separators) decides
  // whether this is a secret name at all; most names containing "key"/"token" are not.
  let we = e;
  while (we > s && !isLetter(text.charCodeAt(we - 1))) we--;
  let ws = we;
  if (ws > s && isLower(text.charCodeAt(ws - 1))) {
    while (ws > s && isLower(text.charCodeAt(ws - 1))) ws--;
    if (ws > s && isUpper(text.charCodeAt(ws - 1))) ws--;
  } else {
    while (ws > s && isUpper(text.charCodeAt(ws - 1))) ws--;
  }
  const lastFast = text.slice(ws, we).toLowerCase();
  if (!SECRET_WORDS.has(lastFast)) return { next };
  const pw = PASSWORD_WORDS.has(lastFast);

  // Operator: = : := => ?= (not == != <= :: ), or "," between two quoted strings ("name", "value").
  let i = e;
  const openQuote = text[s - 1];
  let quotedName = false;
  if (isQuote(openQuote) && text[i] === openQuote) {
    quotedName = true;
    i++;
  }
  while (text[i] === ' ' || text[i] === '\t') i++;
  const c = text[i];
  const c2 = text[i + 1];
  if (c === '=') {
    if (c2 === '=' || c2 === '~') return { next };
    i += c2 === '>' ? 2 : 1;
  } else if (c === ':') {
    if (c2 === ':') return { next };
    i += c2 === '=' ? 2 : 1;
  } else if (c === '?' && c2 === '=') {
    i += 2;
  } else if (c === ',' && quotedName) {
    i += 1;
  } else {
    return { next };
  }
  while (text[i] === ' ' || text[i] === '\t') i++;
  // Python/C# string prefixes: r"...", b'...', @"..."
  if ('rbuRBU@'.includes(text[i] ?? '-') && isQuote(text[i + 1])) i++;

  let vStart = i;
  let vEnd: number;
  const q = text[i];
  if (isQuote(q)) {
    vStart = i + 1;
    vEnd = vStart;
    const qc = q.charCodeAt(0);
    while (vEnd < text.length && vEnd - vStart <= 300) {
      const ch = text.charCodeAt(vEnd);
      if (ch === qc || ch === 10) break;
      vEnd++;
    }
    if (text.charCodeAt(vEnd) !== qc) {
      // Unterminated: keep only the first word of it.
      vEnd = vStart;
      while (vEnd < text.length && !ENDS_WORD[text.charCodeAt(vEnd) & 255] && vEnd - vStart <= 300) vEnd++;
    }
  } else {
    if (quotedName && c === ',') return { next };
    vEnd = i;
    while (vEnd < text.length && !ENDS_BARE[text.charCodeAt(vEnd) & 255] && vEnd - vStart <= 300) vEnd++;
    const raw = text.slice(vStart, vEnd);
    // An unquoted bare word in code is a variable, not a value.
    if (LETTERS_IDENT.test(raw)) return { next };
    if (!unquotedOk && !/^[A-Za-z0-9+/=_-]+$/.test(raw)) return { next };
  }
  let value = text.slice(vStart, vEnd);
  // Cheap rejections before looking at the name's other words.
  if (value.length < 8 || REFERENCE.test(value) || REFERENCE_ANYWHERE.test(value) || DOTTED_IDENT.test(value)) return { next };
  const bearer = /^(?:Bearer|Basic|Token|token)\s+(\S+)$/.exec(value);
  if (bearer) {
    vStart += value.length - bearer[1]!.length;
    value = bearer[1]!;
  }

  const rawName = text.slice(s, e);
  const name = rawName.replace(/^[.-]+|[.-]+$/g, '');
  const words = splitWords(name);
  while (words.length > 1 && /^\d+$/.test(words[words.length - 1]!)) words.pop();
  const before = words[words.length - 2];
  if (!pw && before && NOT_SECRET_QUALIFIERS.has(before)) return { next };
  if (!pw && words.length === 1) {
    // Prose such as "Release GPG key: F3EF..." — the qualifier is the previous word on the line.
    const prev = /([A-Za-z0-9]+)[ \t]+$/.exec(text.slice(Math.max(0, s - 40), s));
    if (prev && NOT_SECRET_QUALIFIERS.has(prev[1]!.toLowerCase())) return { next };
  }

  // AWS secret access keys have no prefix; the name tells them apart.
  if (words.includes('secret') && (words.includes('aws') || words.includes('access')) && AWS_SECRET_VALUE.test(value)) {
    if (value.includes('EXAMPLE') || entropy(value) < 4 || hasSequence(value)) return { next };
    const r = GENERIC_RULES.awsSecret;
    return { hit: { ruleId: r.id, title: r.title, start: vStart, end: vStart + value.length, value, name }, next };
  }
  // In the ("name", "value") form the pair may just be two neighbours in a list: demand a random value.
  if (!plausibleSecretValue(value, pw && c !== ',')) return { next };
  const r = GENERIC_RULES.assignment;
  return { hit: { ruleId: r.id, title: r.title, start: vStart, end: vStart + value.length, value, name }, next };
}

const ENV_LINE = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(['"]?)([^\s'"#]{20,300})\2[ \t]*(?:#.*)?$/gm;

/** Environment files: any long, very random value is reported, whatever its name. */
export function envFileHits(text: string): GenericHit[] {
  const out: GenericHit[] = [];
  ENV_LINE.lastIndex = 0;
  for (let m = ENV_LINE.exec(text); m; m = ENV_LINE.exec(text)) {
    const value = m[3]!;
    if (/^[0-9a-fA-F-]+$/.test(value) || value.includes('://') || PATHLIKE.test(value) || REFERENCE.test(value) || REFERENCE_ANYWHERE.test(value)) continue;
    if (entropy(value) < 4.2 || wordShare(value) >= 0.4 || looksLikePlaceholder(value)) continue;
    const start = m.index + m[0].indexOf(value, m[1]!.length);
    const r = GENERIC_RULES.highEntropy;
    out.push({ ruleId: r.id, title: r.title, start, end: start + value.length, value, name: m[1]! });
  }
  return out;
}
