/**
 * A secret's allowedHosts: "api.openai.com" (that host), "*.example.com" (its subdomains, not the
 * apex), optionally with ":port". Only http and https destinations can carry a secret.
 */
export function hostAllowed(patterns: readonly string[], url: URL): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return patterns.some((raw) => {
    let p = raw.trim().toLowerCase();
    let wantPort: string | undefined;
    const m = /^(.*):(\d+)$/.exec(p);
    if (m && !p.endsWith(']') && (m[1]!.includes('.') || m[1]!.startsWith('[') || !m[1]!.includes(':'))) {
      p = m[1]!;
      wantPort = m[2];
    }
    if (wantPort && wantPort !== port) return false;
    if (p.startsWith('*.')) {
      const suffix = p.slice(1);
      return host.endsWith(suffix) && host.length > suffix.length;
    }
    return host === p;
  });
}
