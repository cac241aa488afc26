/**
 * One pass over a file's text finds every anchor of every secret rule (vendor prefixes, private
 * key armour, generic names like *_key / *token / password); each anchor is then checked by its
 * rule at that position only. Vendor matches win over generic ones on the same value.
 */
import { AnchorScanner, type AnchorRole } from '../anchors.js';
import { CONFIG_WORDS } from '../classify.js';
import { LineIndex } from '../text.js';
import { genericAt, envFileHits, type GenericHit } from './generic.js';
import { INLINE_ALLOW } from './placeholders.js';
import { GENERIC_RULES, PRIVATE_KEY_RULE, SECRET_RULES, type SecretFamily, type SecretRule } from './rules.js';
import type { Severity } from '../types.js';

export interface SecretHit {
  ruleId: string;
  family: SecretFamily;
  title: string;
  severity: Severity;
  remediation: string;
  start: number;
  end: number;
  line: number;
  /** The secret; callers must mask it before it leaves the scanner (see mask()). */
  value: string;
  /** Fixed vendor prefix that may be shown unmasked. */
  prefix: string;
  /** Name it was assigned to (generic rules). */
  name?: string;
}

/**
 * Generic secret names end in one of these words. Each is searched together with the character
 * after it, which must end the word (operator, quote, space, separator, digit): "tokenUrl",
 * "keyboard" or "secrets" never become candidates. "0" stands for any digit.
 */
const GENERIC_WORDS = ['key', 'token', 'secret', 'password', 'passwd', 'pwd', 'pass', 'passphrase', 'credential', 'credentials', 'creds', 'cred', 'auth', 'authorization'];
const WORD_ENDS = ['=', ':', '"', "'", '`', '_', '-', '.', ',', '?', ' ', '\t', '0'];

/** Words the code rules key on (see checks/code.ts); found by the same pass. */
export const CODE_WORDS = [
  'curl', 'wget', 'child_process', 'eval', 'exec', 'new function', 'vm.', 'popen', 'subprocess', 'system(', 'printenv',
  'process.env)', 'process.env,', 'os.environ', 'base64', 'atob', 'b64decode', '.ssh', '.aws', '.npmrc', '.netrc', '.pypirc',
  '.git-credentials', '.kube', '.docker', 'gnupg', 'gcloud', '/etc/shadow', 'find-generic-password', 'find-internet-password', // clawguard:allow (the list of words this rule looks for)
];

function buildScanner(): { scanner: AnchorScanner; vendorRules: Map<number, SecretRule[]> } {
  const entries: Array<{ text: string; role: AnchorRole }> = [];
  const byText = new Map<string, SecretRule[]>();
  for (const rule of SECRET_RULES) {
    for (const a of rule.anchors) {
      if (a === 'ey') continue; // JWTs are found from their "." + "ey" seam instead: "ey" alone is everywhere
      byText.set(a, [...(byText.get(a) ?? []), rule]);
    }
  }
  for (const a of byText.keys()) entries.push({ text: a, role: { kind: 'vendor', anchor: a } });
  entries.push({ text: '.ey', role: { kind: 'jwt-seam' } });
  entries.push({ text: PRIVATE_KEY_ANCHOR, role: { kind: 'private-key' } });
  for (const w of GENERIC_WORDS) for (const e of WORD_ENDS) entries.push({ text: w + e, role: { kind: 'generic', word: w } });
  for (const w of [...CODE_WORDS, ...CONFIG_WORDS]) entries.push({ text: w, role: { kind: 'code', word: w } });
  const scanner = new AnchorScanner(entries);
  const vendorRules = new Map<number, SecretRule[]>();
  entries.forEach((e, i) => {
    if (e.role.kind === 'vendor') vendorRules.set(i, byText.get(e.role.anchor)!);
  });
  return { scanner, vendorRules };
}

const PRIVATE_KEY_ANCHOR = '-----BEGIN';
const { scanner: SCANNER, vendorRules: VENDOR_RULES } = buildScanner();
const JWT_RULE = SECRET_RULES.find((r) => r.id === 'secret.jwt.token')!;

function isTokenChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
}

const LOWER_COMPOUNDS = ['apikey', 'apitoken', 'authtoken', 'accesstoken', 'clientsecret', 'secretkey', 'accesskey', 'privatekey'];

/**
 * Cheap test before the generic rule: is the word at [start, end) the last word of a name?
 * "monkey", "key_id" and "token.url" are rejected here without further work.
 */
function lastWordOfName(text: string, start: number, end: number): boolean {
  const before = text.charCodeAt(start - 1);
  const first = text.charCodeAt(start);
  if (before >= 97 && before <= 122 && first >= 97 && first <= 122) {
    // Inside a lower-case word: only the compounds we know (apikey, clientsecret...) qualify.
    const tail = text.slice(Math.max(0, start - 8), end).toLowerCase();
    if (!LOWER_COMPOUNDS.some((c) => tail.endsWith(c))) return false;
  }
  // Digits, then a separator followed by another word, mean the name goes on (key_id, token.url).
  let j = end;
  let c = text.charCodeAt(j);
  while (c >= 48 && c <= 57) c = text.charCodeAt(++j);
  if (c === 95 || c === 45 || c === 46) {
    let k = j + 1;
    let d = text.charCodeAt(k);
    while (d >= 48 && d <= 57) d = text.charCodeAt(++k);
    if ((d >= 97 && d <= 122) || (d >= 65 && d <= 90)) return false;
  }
  return true;
}

/** Cheap test before the generic rule: does an assignment operator follow the name at `i`? */
function assignmentFollows(text: string, i: number): boolean {
  const n = text.length;
  let j = i;
  const limit = i + 80;
  while (j < n && j < limit) {
    const c = text.charCodeAt(j);
    if (isTokenChar(c) || c === 46) j++;
    else break;
  }
  let c = text.charCodeAt(j);
  if (c === 34 || c === 39 || c === 96) c = text.charCodeAt(++j);
  while (c === 32 || c === 9) c = text.charCodeAt(++j);
  return c === 61 || c === 58 || c === 44 || (c === 63 && text.charCodeAt(j + 1) === 61);
}

export interface SecretScanOptions {
  /** File name, for the environment-file rule. */
  fileName?: string;
  /** Code files: unquoted right-hand sides are expressions, so only token-shaped ones count. */
  isCode?: boolean;
  /** Filled with the words (CODE_WORDS, CONFIG_WORDS) the pass saw, for the code rules and config detection. */
  codeWords?: Set<string>;
  /** The bytes `text` was latin1-decoded from (saves re-encoding). */
  bytes?: Uint8Array;
}

const PK_HEADER = /-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----/y;

function privateKeyAt(text: string, pos: number): { value: string; end: number; header: string } | undefined {
  PK_HEADER.lastIndex = pos;
  const h = PK_HEADER.exec(text);
  if (!h) return undefined;
  const bodyStart = pos + h[0].length;
  const endIdx = text.indexOf('-----END', bodyStart);
  const bodyEnd = endIdx === -1 ? Math.min(text.length, bodyStart + 8192) : endIdx;
  // The body must contain real base64 lines (PEM wraps at 64); code that assembles PEM strings does not.
  const lines = text
    .slice(bodyStart, bodyEnd)
    .split(/\\n|\\r|\r?\n/)
    .map((l) => l.trim().replace(/^["'`+,\s]+|["'`+,;\s]+$/g, ''))
    .filter((l) => l && !/^[A-Za-z-]+:\s/.test(l)); // armour headers such as Proc-Type: / Version:
  if (!lines.some((l) => l.length >= 40 && /^[A-Za-z0-9+/=]+$/.test(l))) return undefined;
  const body = lines.filter((l) => /^[A-Za-z0-9+/=]+$/.test(l)).join('');
  if (/^(.)\1+$/.test(body.replace(/=+$/, ''))) return undefined;
  return { value: body, end: endIdx === -1 ? bodyEnd : endIdx, header: h[0] };
}

function vendorAt(text: string, pos: number, rules: SecretRule[], lines: LineIndex): SecretHit | undefined {
  for (const rule of rules) {
    if (rule.leftBoundary && pos > 0 && rule.leftBoundary.test(text[pos - 1]!)) continue;
    rule.re.lastIndex = pos;
    const rm = rule.re.exec(text);
    if (!rm) continue;
    const value = rm[0];
    if (rule.accept && !rule.accept(value)) continue;
    return {
      ruleId: rule.id,
      family: rule.family,
      title: rule.title,
      severity: rule.severityOf ? rule.severityOf(value) : rule.severity,
      remediation: rule.remediation,
      start: pos,
      end: pos + value.length,
      line: lines.line(pos),
      value,
      prefix: rule.prefixOf ? rule.prefixOf(value) : '',
    };
  }
  return undefined;
}

export function scanSecrets(text: string, opts: SecretScanOptions = {}): SecretHit[] {
  const vendor: SecretHit[] = [];
  const generic: GenericHit[] = [];
  const lines = new LineIndex(text);
  const hits = SCANNER.scan(opts.bytes ?? Buffer.from(text, 'latin1'));
  const roles = SCANNER.roles;
  const codeWords = opts.codeWords;
  /** Hits that start inside a secret already found are part of it. */
  let skipUntil = 0;
  /** End of the last name handed to the generic rule (two words of one name: look once). */
  let nameEnd = 0;
  for (let h = 0; h < hits.count; h++) {
    const end = hits.ends[h]!;
    const id = hits.ids[h]!;
    const role = roles[id]!;
    if (role.kind === 'code') {
      codeWords?.add(role.word);
      continue;
    }
    const start = end - SCANNER.patternLength(id);
    if (start < skipUntil) continue;
    // Generic patterns include the character after the word; the word itself ends one earlier.
    const wordEnd = role.kind === 'generic' ? end - 1 : end;
    switch (role.kind) {
      case 'vendor': {
        const v = vendorAt(text, start, VENDOR_RULES.get(id)!, lines);
        if (v) {
          vendor.push(v);
          skipUntil = v.end;
        }
        break;
      }
      case 'jwt-seam': {
        let st = start;
        while (st > 0 && isTokenChar(text.charCodeAt(st - 1))) st--;
        if (start - st >= 19 && text.charCodeAt(st) === 101 && text.charCodeAt(st + 1) === 121) {
          const v = vendorAt(text, st, [JWT_RULE], lines);
          if (v && !vendor.some((x) => x.start === v.start)) {
            vendor.push(v);
            skipUntil = v.end;
          }
        }
        break;
      }
      case 'private-key': {
        const pk = privateKeyAt(text, start);
        if (pk) {
          const r = PRIVATE_KEY_RULE;
          vendor.push({ ruleId: r.id, family: r.family, title: `${r.title} (${pk.header.replace(/-/g, '').trim()})`, severity: r.severity, remediation: r.remediation, start, end: pk.end, line: lines.line(start), value: pk.value, prefix: '' });
          skipUntil = pk.end;
        }
        break;
      }
      case 'generic': {
        if (start < nameEnd || !lastWordOfName(text, start, wordEnd) || !assignmentFollows(text, wordEnd)) break;
        const g = genericAt(text, start, wordEnd - start, !opts.isCode);
        nameEnd = g.next;
        if (g.hit) generic.push(g.hit);
        break;
      }
    }
  }
  if (opts.fileName && /(?:^|[\\/])\.env(?:\.[\w.-]+)?$|\.env$/.test(opts.fileName)) generic.push(...envFileHits(text));

  const out = vendor;
  for (const g of generic) {
    // A vendor rule that matched the same value is more precise; keep that one only.
    if (vendor.some((v) => v.start < g.end && g.start < v.end)) continue;
    if (out.some((o) => o.start === g.start)) continue;
    const meta = g.ruleId === GENERIC_RULES.awsSecret.id ? GENERIC_RULES.awsSecret : g.ruleId === GENERIC_RULES.highEntropy.id ? GENERIC_RULES.highEntropy : GENERIC_RULES.assignment;
    out.push({ ruleId: g.ruleId, family: meta.family, title: g.title, severity: meta.severity, remediation: meta.remediation, start: g.start, end: g.end, line: lines.line(g.start), value: g.value, prefix: '', name: g.name });
  }
  return out.filter((h) => !INLINE_ALLOW.test(lines.lineText(h.start))).sort((a, b) => a.start - b.start);
}
