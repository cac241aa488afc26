/**
 * Domain allow/block lists. Seed semantics: blockedDomains ["*"] means default deny; any other
 * blocked entry wins over an allow (allowed *.example.com + blocked evil.example.com blocks evil).
 * When neither list says "*": a non-empty allow list is exhaustive (default deny); an empty allow list
 * with a non-empty block list is a pure block list (default allow); both empty denies everything.
 */
import { domainToASCII } from 'node:url';

export interface DomainPattern {
  entry: string;
  /** Canonical host (lowercase ASCII, no trailing dot, IPv6 in brackets) or suffix for wildcards. */
  host: string;
  wildcard: boolean;
}

/** Canonical host form as the WHATWG URL parser would produce it, trailing dot removed. */
export function canonicalHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

/** Canonicalise a config entry: "*.Example.COM." → wildcard "example.com"; "127.1" → "127.0.0.1". */
export function parseDomainPattern(entry: string): DomainPattern | undefined {
  let e = entry.trim();
  if (e === '*') return { entry, host: '*', wildcard: true };
  let wildcard = false;
  if (e.startsWith('*.')) {
    wildcard = true;
    e = e.slice(2);
  } else if (e.startsWith('.')) {
    wildcard = true;
    e = e.slice(1);
  }
  if (!e || e.includes('*') || /[/?#@\s]/.test(e)) return undefined;
  let host: string;
  try {
    const bracketed = e.includes(':') && !e.startsWith('[') ? `[${e}]` : e;
    host = new URL(`http://${bracketed}/`).hostname;
  } catch {
    const ascii = domainToASCII(e);
    if (!ascii) return undefined;
    host = ascii;
  }
  return { entry, host: canonicalHost(host), wildcard };
}

export function matchesPattern(host: string, p: DomainPattern): boolean {
  if (p.host === '*') return true;
  if (p.wildcard) return host.endsWith('.' + p.host); // *.example.com does not match example.com itself
  return host === p.host;
}

export type DomainDecision = { ok: true; rule: string } | { ok: false; reason: string };

export class DomainRules {
  readonly allowed: DomainPattern[];
  readonly blocked: DomainPattern[];
  private readonly denyByDefault: boolean;

  constructor(allowedDomains: string[], blockedDomains: string[]) {
    this.allowed = allowedDomains.map(parseDomainPattern).filter((p): p is DomainPattern => !!p);
    const blocked = blockedDomains.map(parseDomainPattern).filter((p): p is DomainPattern => !!p);
    const star = blocked.some((b) => b.host === '*');
    this.blocked = blocked.filter((b) => b.host !== '*');
    this.denyByDefault = star || this.allowed.length > 0 || this.blocked.length === 0;
  }

  decide(host: string): DomainDecision {
    const h = canonicalHost(host);
    const b = this.blocked.find((p) => matchesPattern(h, p));
    if (b) return { ok: false, reason: `blocked by blockedDomains entry "${b.entry}"` };
    const a = this.allowed.find((p) => matchesPattern(h, p));
    if (a) return { ok: true, rule: a.entry };
    if (this.denyByDefault) return { ok: false, reason: 'not in allowedDomains (default deny)' };
    return { ok: true, rule: '(not blocked)' };
  }
}
