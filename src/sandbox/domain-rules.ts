/**
 * Domain allow/block lists. Seed semantics: blockedDomains ["*"] means default deny; any other
 * blocked entry wins over an allow (allowed *.example.com + blocked evil.example.com blocks evil).
 * When neither list says "*": a non-empty allow list is exhaustive (default deny); an empty allow list
 * with a non-empty block list is a pure block list (default allow); both empty denies everything.
 * Entries are host patterns (host-pattern.ts) with any scheme and port unless they name one.
 */
import { canonicalHost, DESTINATION_LIST, hostPatternMatches, parseHostPatterns, type HostPattern, type Target } from './host-pattern.js';

export type DomainDecision = { ok: true; rule: string } | { ok: false; reason: string };

/** A host name alone stands for itself on any scheme and port (patterns that name a port do not match it). */
function asTarget(t: Target | string): Target | { host: string } {
  return typeof t === 'string' ? { host: canonicalHost(t) } : t;
}

/** By name only: a list entry that is an address matches that literal, not whatever resolves to it. */
function matches(p: HostPattern, t: Target | { host: string }): boolean {
  if ('scheme' in t) return hostPatternMatches(p, t.address === undefined ? t : { scheme: t.scheme, host: t.host, port: t.port });
  if (p.scheme !== undefined || p.port !== undefined) return false;
  return hostPatternMatches(p, { scheme: 'https', host: t.host, port: 443 });
}

export class DomainRules {
  readonly allowed: HostPattern[];
  readonly blocked: HostPattern[];
  private readonly denyByDefault: boolean;

  constructor(allowedDomains: string[], blockedDomains: string[]) {
    this.allowed = parseHostPatterns(allowedDomains, DESTINATION_LIST);
    const blocked = parseHostPatterns(blockedDomains, DESTINATION_LIST);
    const star = blocked.some((b) => b.kind === 'any' && b.port === undefined && b.scheme === undefined);
    this.blocked = blocked.filter((b) => !(b.kind === 'any' && b.port === undefined && b.scheme === undefined));
    this.denyByDefault = star || this.allowed.length > 0 || this.blocked.length === 0;
  }

  /** Is a blockedDomains entry naming this destination? */
  isBlocked(t: Target | string): HostPattern | undefined {
    const x = asTarget(t);
    return this.blocked.find((p) => matches(p, x));
  }

  decide(t: Target | string): DomainDecision {
    const x = asTarget(t);
    const b = this.blocked.find((p) => matches(p, x));
    if (b) return { ok: false, reason: `blocked by blockedDomains entry "${b.entry}"` };
    const a = this.allowed.find((p) => matches(p, x));
    if (a) return { ok: true, rule: a.entry };
    if (this.denyByDefault) return { ok: false, reason: 'not in allowedDomains (default deny)' };
    return { ok: true, rule: '(not blocked)' };
  }
}
