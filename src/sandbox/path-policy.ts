/**
 * The allow/block decision for a canonical absolute path. A blocked or hidden prefix always wins over
 * an allowed one, whichever is more specific (seed README: "a blocked path always wins").
 */
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { expandTilde, isWithin, rootForms } from './path-canonical.js';

export interface PathPolicyOptions {
  allowedPaths: string[];
  blockedPaths: string[];
  /** Never reachable and never named in messages (the gateway's state dir, say). */
  hiddenPaths?: string[];
  home?: string;
}

export type PathVerdict =
  | { ok: true; root: string }
  | { ok: false; reason: 'blocked'; rule: string }
  | { ok: false; reason: 'hidden' }
  | { ok: false; reason: 'outside' };

export type PathDenial = Exclude<PathVerdict, { ok: true }>;

export class PathPolicy {
  /** Each configured entry with its lexical and real forms. */
  readonly allowed: Array<{ entry: string; forms: string[] }>;
  readonly blocked: Array<{ entry: string; forms: string[] }>;
  readonly hidden: string[];

  constructor(opts: PathPolicyOptions) {
    const norm = (list: string[]) =>
      list
        .filter((e) => typeof e === 'string' && e.length > 0 && !e.includes('\0'))
        .map((entry) => {
          // A relative root would mean "wherever the gateway happens to run"; refuse it.
          if (!path.isAbsolute(expandTilde(entry, opts.home))) {
            throw new ClawguardError('config_invalid', `sandbox path entry "${entry}" is not absolute (use an absolute path or ~/…)`);
          }
          return { entry, forms: rootForms(entry, opts.home) };
        });
    this.allowed = norm(opts.allowedPaths);
    this.blocked = norm(opts.blockedPaths);
    this.hidden = (opts.hiddenPaths ?? []).filter((e) => e && !e.includes('\0')).flatMap((e) => rootForms(e, opts.home));
  }

  /** Decide for one canonical absolute path. */
  decide(p: string): PathVerdict {
    for (const h of this.hidden) if (isWithin(p, h)) return { ok: false, reason: 'hidden' };
    for (const b of this.blocked) for (const f of b.forms) if (isWithin(p, f)) return { ok: false, reason: 'blocked', rule: b.entry };
    let best: string | undefined;
    for (const a of this.allowed) for (const f of a.forms) if (isWithin(p, f) && (!best || f.length > best.length)) best = f;
    return best ? { ok: true, root: best } : { ok: false, reason: 'outside' };
  }

  /** Every form of every allowed root (for messages and for choosing a walk start). */
  allowedForms(): string[] {
    return this.allowed.flatMap((a) => a.forms);
  }

  /** Whether `p` is a proper ancestor of an allowed root: resolution may look at it without learning anything. */
  isRootAncestor(p: string): boolean {
    for (const a of this.allowed) for (const f of a.forms) if (f !== p && isWithin(f, p)) return true;
    return false;
  }

  /** The real form of the root a lexical form belongs to (the form itself when it has none). */
  realForm(form: string): string {
    for (const a of this.allowed) if (a.forms.includes(form)) return a.forms[a.forms.length - 1]!;
    return form;
  }

  /** Blocked and hidden paths, every form: what the identity map follows. */
  protectedForms(): string[] {
    return [...this.hidden, ...this.blocked.flatMap((b) => b.forms)];
  }
}
