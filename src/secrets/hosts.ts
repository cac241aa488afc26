/**
 * A secret's allowedHosts, read as host patterns with origin defaults (src/sandbox/host-pattern.ts):
 * "api.openai.com" is https://api.openai.com:443 only; "host:port", "http://host:port" and
 * "*.example.com" say otherwise. An empty list is nowhere.
 */
import { hostPatternMatches, parseHostPatterns, SECRET_BINDING, targetOf, type HostPattern } from '../sandbox/host-pattern.js';

const parsed = new WeakMap<readonly string[], HostPattern[]>();

export function hostAllowed(patterns: readonly string[], url: URL): boolean {
  const t = targetOf(url);
  if (!t || patterns.length === 0) return false;
  let list = parsed.get(patterns);
  if (!list) parsed.set(patterns, (list = parseHostPatterns(patterns, SECRET_BINDING)));
  return list.some((p) => hostPatternMatches(p, t));
}
