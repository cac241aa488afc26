/**
 * A secret's allowedHosts, read as host patterns with origin defaults (src/sandbox/host-pattern.ts):
 * "api.openai.com" is https://api.openai.com:443 only; "host:port", "http://host:port" and
 * "*.example.com" say otherwise. An empty list is nowhere, here, in the config tier's Cedar
 * (policy/compile-config.ts) and in the config grants (grants.ts).
 */
import { hostPatternMatches, parseHostPatterns, targetOf, type HostPattern } from '../sandbox/index.js';

const parsed = new WeakMap<readonly string[], HostPattern[]>();

export function hostAllowed(patterns: readonly string[], url: URL): boolean {
  const t = targetOf(url);
  // Nothing parsable (or nothing at all) binds the secret to nowhere.
  if (!t || patterns.length === 0) return false;
  let list = parsed.get(patterns);
  if (!list) parsed.set(patterns, (list = parseHostPatterns(patterns, { defaults: 'origin' })));
  return list.some((p) => hostPatternMatches(p, t));
}
