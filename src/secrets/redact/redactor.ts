/**
 * Replaces every known secret value — in any of its encoded forms — by `[REDACTED:name]`, in one
 * automaton pass per string for all secrets at once. It is the gateway's OutputFilter (tool
 * results, model replies, errors, audit payloads) and the log's last step. Each catch is counted
 * as an exposure of that secret.
 */
import type { OutputFilter } from '../../pipeline/index.js';
import { Automaton } from './automaton.js';
import { formsOf } from './forms.js';

/** Values remembered per secret: the current one, those in grace, and a few revoked ones. */
const MAX_VALUES_PER_SECRET = 8;

export type ExposureListener = (counts: Map<string, number>, where: string) => void;

const safeLabel = (name: string) => name.replace(/[^A-Za-z0-9._:-]/g, '_');

export class SecretRedactor implements OutputFilter {
  private readonly values = new Map<string, string[]>();
  private automaton: Automaton | undefined;
  private labels: string[] = [];
  private secretOf: string[] = [];
  private dirty = false;
  private listener: ExposureListener | undefined;

  /** Called once per redaction call that caught something, with the count per secret. */
  onExposure(fn: ExposureListener): void {
    this.listener = fn;
  }

  /** Learns a value of `secret` (idempotent). */
  add(secret: string, value: string): void {
    if (!value) return;
    const list = this.values.get(secret) ?? [];
    if (list.includes(value)) return;
    list.push(value);
    if (list.length > MAX_VALUES_PER_SECRET) list.shift();
    this.values.set(secret, list);
    this.dirty = true;
  }

  forget(secret: string): void {
    if (this.values.delete(secret)) this.dirty = true;
  }

  stats(): { patterns: number; secretsKnown: number } {
    this.compile();
    return { patterns: this.automaton?.size ?? 0, secretsKnown: this.values.size };
  }

  private compile(): Automaton | undefined {
    if (!this.dirty) return this.automaton;
    const patterns: string[] = [];
    const labels: string[] = [];
    const secretOf: string[] = [];
    const seen = new Set<string>();
    for (const [secret, vals] of this.values) {
      for (const v of vals) {
        for (const f of formsOf(v)) {
          if (seen.has(f)) continue;
          seen.add(f);
          patterns.push(f);
          labels.push(`[REDACTED:${safeLabel(secret)}]`);
          secretOf.push(secret);
        }
      }
    }
    this.automaton = patterns.length ? new Automaton(patterns) : undefined;
    this.labels = labels;
    this.secretOf = secretOf;
    this.dirty = false;
    return this.automaton;
  }

  private redactInto(s: string, counts: Map<string, number>): string {
    const a = this.automaton;
    if (!a || s.length === 0) return s;
    const spans = a.scan(s);
    if (!spans) return s;
    const parts: string[] = [];
    let at = 0;
    for (const sp of spans) {
      parts.push(s.slice(at, sp.start), this.labels[sp.pattern]!);
      at = sp.end;
      const secret = this.secretOf[sp.pattern]!;
      counts.set(secret, (counts.get(secret) ?? 0) + 1);
    }
    parts.push(s.slice(at));
    return parts.join('');
  }

  private report(counts: Map<string, number>, where: string): void {
    if (counts.size > 0 && this.listener) this.listener(counts, where);
  }

  redactText(s: string, where = 'text'): string {
    if (!this.compile()) return s;
    const counts = new Map<string, number>();
    const out = this.redactInto(s, counts);
    this.report(counts, where);
    return out;
  }

  /** Deep-redacts every string (and object key) of a JSON-like value; returns a new value only where something changed. */
  filter(value: unknown, where = 'output'): unknown {
    if (!this.compile()) return value;
    const counts = new Map<string, number>();
    const seen = new WeakSet<object>();
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.redactInto(v, counts);
      if (v === null || typeof v !== 'object') return v;
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
      if (Array.isArray(v)) {
        let changed = false;
        const out = v.map((x) => {
          const y = walk(x);
          if (y !== x) changed = true;
          return y;
        });
        return changed ? out : v;
      }
      if (ArrayBuffer.isView(v) || v instanceof Date) return v;
      let changed = false;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const k2 = this.redactInto(k, counts);
        const y = walk(x);
        if (y !== x || k2 !== k) changed = true;
        out[k2] = y;
      }
      return changed ? out : v;
    };
    const out = walk(value);
    this.report(counts, where);
    return out;
  }
}
