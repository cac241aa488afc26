/**
 * Address classification for the egress guard. Only globally routable unicast is reachable by default;
 * loopback/private/link-local/CGNAT/unique-local can be opened up explicitly (allowPrivate); multicast,
 * broadcast, unspecified, IPv4 embedded in IPv6 and the cloud metadata endpoints never can.
 */
import ipaddr from 'ipaddr.js';

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'unique-local'
  | 'multicast'
  | 'broadcast'
  | 'unspecified'
  | 'ipv4-mapped'
  | 'ipv4-embedded'
  | 'metadata'
  | 'reserved'
  | 'invalid';

/** Cloud metadata endpoints (AWS, AWS IPv6, Alibaba, Oracle/others, ECS task credentials). */
export const METADATA_ADDRESSES: readonly string[] = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '192.0.0.192', '169.254.170.2'];
const METADATA = new Set(METADATA_ADDRESSES.map((a) => ipaddr.parse(a).toNormalizedString()));

/** Classes an explicit allowPrivate entry may open up. */
export const OPENABLE: ReadonlySet<AddressClass> = new Set(['loopback', 'private', 'link-local', 'cgnat', 'unique-local']);

const V4: Record<string, AddressClass> = {
  unicast: 'public',
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local',
  carrierGradeNat: 'cgnat',
  multicast: 'multicast',
  broadcast: 'broadcast',
  unspecified: 'unspecified',
};
const V6: Record<string, AddressClass> = {
  unicast: 'public',
  loopback: 'loopback',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  multicast: 'multicast',
  unspecified: 'unspecified',
  ipv4Mapped: 'ipv4-mapped',
  rfc6145: 'ipv4-embedded',
  rfc6052: 'ipv4-embedded', // NAT64 64:ff9b::/96 reaches an IPv4 address of the attacker's choosing
  '6to4': 'ipv4-embedded',
  teredo: 'ipv4-embedded',
};

/** Parse an address string (no brackets) and classify it. Anything unparsable is `invalid`. */
export function classifyAddress(address: string): AddressClass {
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // Only the strict textual forms a resolver returns; "0x7f.1" style input is the URL parser's job.
  if (!ipaddr.IPv4.isValidFourPartDecimal(a) && !ipaddr.IPv6.isValid(a)) return 'invalid';
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(a.replace(/%.*$/, '')); // zone index (fe80::1%eth0) does not change the class
  } catch {
    return 'invalid';
  }
  if (METADATA.has(ip.toNormalizedString())) return 'metadata';
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return 'ipv4-mapped';
    // IPv4-compatible ::a.b.c.d (deprecated) — first 96 bits zero, not :: or ::1.
    const p = v6.parts;
    if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1)) return 'ipv4-mapped';
    return V6[v6.range()] ?? 'reserved';
  }
  return V4[(ip as ipaddr.IPv4).range()] ?? 'reserved';
}

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** "10.0.0.0/8", "::1/128" or a bare address (as /32 or /128). Returns undefined for a host name. */
export function parseCidr(entry: string): Cidr | undefined {
  const s = entry.trim().replace(/^\[(.*)\](\/\d+)?$/, '$1$2');
  try {
    if (s.includes('/')) return ipaddr.parseCIDR(s);
    if (ipaddr.IPv4.isValidFourPartDecimal(s) || ipaddr.IPv6.isValid(s)) {
      const ip = ipaddr.parse(s);
      return [ip, ip.kind() === 'ipv4' ? 32 : 128];
    }
  } catch {
    /* not an address */
  }
  return undefined;
}

export function inCidr(address: string, cidr: Cidr): boolean {
  try {
    const ip = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
    if (ip.kind() !== cidr[0].kind()) return false;
    return ip.match(cidr);
  } catch {
    return false;
  }
}
