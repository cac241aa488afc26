/**
 * Everything the scanner does to one file: classify it, run the secret pass on its text, the
 * code rules on code and skills, the config rules on configs, and the permission checks on
 * configs and keys. Pure apart from reading the file, so it runs in worker threads too.
 */
import { isAscii } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import JSON5 from 'json5';
import { finding } from './catalog.js';
import { checkClawguardConfig } from './checks/clawguard-config.js';
import { checkCode } from './checks/code.js';
import { checkOpenClawConfig } from './checks/openclaw-config.js';
import { checkPermissions, type PermFix } from './checks/permissions.js';
import { BINARY_EXT, configKind, isKeyFileName, kindByName, mightBeConfig, namedLikeConfig, worthParsing } from './classify.js';
import { scanSecrets } from './secrets/scanner.js';
import { mask } from './text.js';
import type { Finding, RuleSet } from './types.js';
import type { FileEntry } from './walker.js';

export interface FileScanContext {
  rules: RuleSet;
  maxFileBytes: number;
  env: Readonly<Record<string, string | undefined>>;
}

export interface FileScanResult {
  findings: Finding[];
  fixes: PermFix[];
  scanned: boolean;
  bytes: number;
  config?: 'clawguard-config' | 'openclaw-config';
  error?: string;
}

const MAX_CONFIG_BYTES = 2 * 1024 * 1024;

function parseJson(text: string, name: string): { doc?: unknown; error?: string } {
  try {
    return { doc: JSON.parse(text) };
  } catch {
    // JSON5 only where it can be meant: .json5, config names, or text using JSON5 syntax (comments, bare keys).
    const json5ish = /\.json5$/i.test(name) || namedLikeConfig(name) || /\/\/|\/\*|^\s*[A-Za-z_$][\w$-]*\s*:/m.test(text.slice(0, 4096));
    if (!json5ish) return {};
    try {
      return { doc: JSON5.parse(text) };
    } catch (e) {
      // Only files that claim to be configs deserve a parse error in the report.
      return namedLikeConfig(name) ? { error: `not valid JSON/JSON5: ${(e as Error).message.replace(/^JSON5: /, '')}` } : {};
    }
  }
}

/**
 * Scan a file's text. `raw` (the bytes) is given when `text` is latin1-decoded, so that config
 * files can be parsed as the UTF-8 they are.
 */
export function scanText(entry: { abs: string; rel: string; name: string; mode: number | (() => number) }, text: string, ctx: FileScanContext, raw?: Buffer): FileScanResult {
  const modeOf = () => (typeof entry.mode === 'function' ? entry.mode() : entry.mode);
  const out: Finding[] = [];
  const fixes: PermFix[] = [];
  const { rel: file, name } = entry;
  const kind = kindByName(file, name);
  const result: FileScanResult = { findings: out, fixes, scanned: true, bytes: text.length };

  const codeWords = new Set<string>();
  const secrets = scanSecrets(text, { fileName: name, isCode: kind === 'code', codeWords, ...(raw ? { bytes: raw } : {}) });
  for (const s of secrets) {
    const masked = mask(s.value, s.prefix);
    const f = finding(s.ruleId, {
      file,
      line: s.line,
      detail: `${s.title}${s.name ? ` assigned to ${s.name}` : ''}: ${masked} (rule ${s.ruleId})`,
      severity: s.severity,
      title: s.title,
      remediation: s.remediation,
    });
    f.secret = { family: s.family, masked };
    out.push(f);
  }

  if (kind === 'code' || kind === 'skill') out.push(...checkCode(text, file, name, codeWords));

  // A key file by name, or a plain file holding a private key (deploy.pem, a key without extension);
  // source code that embeds a test vector is reported as a secret, not as a key file.
  let keyFile = isKeyFileName(name) || (kind === 'text' && /\.(?:pem|key|txt|asc|priv)$|^[^.]+$/i.test(name) && secrets.some((s) => s.family === 'private-key'));
  if (mightBeConfig(name) && text.length <= MAX_CONFIG_BYTES && worthParsing(name, text, codeWords)) {
    // The latin1 text is the UTF-8 text when the bytes are ASCII (the usual case): no second decode.
    const { doc, error } = parseJson(raw && !isAscii(raw) ? raw.toString('utf8') : text, name);
    if (error) result.error = error;
    const ck = doc === undefined ? undefined : configKind(name, doc);
    if (ck) {
      result.config = ck;
      const obj = doc as Record<string, unknown>;
      try {
        out.push(...(ck === 'clawguard-config' ? checkClawguardConfig({ doc: obj, text, file, rules: ctx.rules }) : checkOpenClawConfig({ doc: obj, text, file, env: ctx.env })));
      } catch (e) {
        result.error = `config checks failed: ${(e as Error).message}`;
      }
      out.push(...checkPermissions('config', entry.abs, file, modeOf(), fixes));
      keyFile = false;
    }
  }
  if (keyFile) out.push(...checkPermissions('key', entry.abs, file, modeOf(), fixes));

  // Details quote code lines; make sure no secret found in this file is ever printed whole.
  if (secrets.length > 0) {
    for (const f of out) {
      for (const s of secrets) {
        if (s.value.length >= 6 && f.detail.includes(s.value)) f.detail = f.detail.split(s.value).join(mask(s.value, s.prefix));
      }
    }
  }
  return result;
}

/** Reusable read buffer, one per thread. */
export class Scratch {
  buf = Buffer.allocUnsafe(1 << 20);
}

/**
 * Read and scan one file with synchronous I/O: open, read, close, and fstat only when the size
 * is unknown (the buffer filled up) or the mode is needed (a config or key file). Synchronous
 * calls avoid a thread-pool round trip per step, which is most of the cost on trees of small
 * files; callers run this in worker threads or in short batches.
 */
export function scanFileSync(entry: FileEntry, ctx: FileScanContext, scratch: Scratch): FileScanResult {
  const empty: FileScanResult = { findings: [], fixes: [], scanned: false, bytes: 0 };
  let fd: number;
  try {
    fd = openSync(entry.abs, 'r');
  } catch (e) {
    return { ...empty, error: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  try {
    let mode: number | undefined;
    const modeOf = () => (mode ??= fstatSync(fd).mode);
    const byNameKey = isKeyFileName(entry.name);
    if (BINARY_EXT.test(entry.name)) {
      // Not read, but a key file's permissions still matter (binary keystores, .p12).
      if (byNameKey) empty.findings.push(...checkPermissions('key', entry.abs, entry.rel, modeOf(), empty.fixes));
      return empty;
    }
    let n = 0;
    for (;;) {
      if (n === scratch.buf.length) {
        const st = fstatSync(fd);
        mode = st.mode;
        if (st.size > ctx.maxFileBytes || !st.isFile()) {
          if (byNameKey) empty.findings.push(...checkPermissions('key', entry.abs, entry.rel, st.mode, empty.fixes));
          return empty;
        }
        const bigger = Buffer.allocUnsafe(Math.max(st.size + 1, scratch.buf.length * 2));
        scratch.buf.copy(bigger, 0, 0, n);
        scratch.buf = bigger;
      }
      const r = readSync(fd, scratch.buf, n, scratch.buf.length - n, n);
      if (r === 0) break;
      n += r;
      if (n > ctx.maxFileBytes) {
        if (byNameKey) empty.findings.push(...checkPermissions('key', entry.abs, entry.rel, modeOf(), empty.fixes));
        return empty;
      }
    }
    const buf = scratch.buf.subarray(0, n);
    if (buf.subarray(0, Math.min(n, 8000)).includes(0)) {
      if (byNameKey) empty.findings.push(...checkPermissions('key', entry.abs, entry.rel, modeOf(), empty.fixes));
      return empty;
    }
    // latin1 keeps offsets equal to byte offsets; secrets and keywords are ASCII either way.
    return scanText({ abs: entry.abs, rel: entry.rel, name: entry.name, mode: modeOf }, buf.toString('latin1', 0, n), ctx, buf);
  } catch (e) {
    return { ...empty, error: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  } finally {
    closeSync(fd);
  }
}
