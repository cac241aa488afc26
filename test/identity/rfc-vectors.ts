/**
 * Test material published in RFC 9421 (HTTP Message Signatures), Appendix B: the ed25519 test
 * key of B.1.4 (PEM and JWK forms), the test request of B.2, and the B.2.6 signature; plus the
 * component examples of §2.1 and §2.2. Reproduced exactly; the tests check our code against them.
 */
export const TEST_KEY_ED25519 = {
  keyid: 'test-key-ed25519',
  publicPem: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n',
  privatePem: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n',
  jwk: { kty: 'OKP', crv: 'Ed25519', kid: 'test-key-ed25519', d: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU', x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs' },
};

export const B2_BODY = '{"hello": "world"}';
export const B2_SHA512 = 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:';
/** RFC 9530 / RFC 9421 examples: sha-256 of the same body. */
export const B2_SHA256 = 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:';

export const B26_SIGNATURE_INPUT = 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
export const B26_SIGNATURE = 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';
export const B26_COMPONENTS = ['date', '@method', '@path', '@authority', 'content-type', 'content-length'];
export const B26_CREATED = 1618884473;
export const B26_BASE = [
  '"date": Tue, 20 Apr 2021 02:07:55 GMT',
  '"@method": POST',
  '"@path": /foo',
  '"@authority": example.com',
  '"content-type": application/json',
  '"content-length": 18',
  '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
].join('\n');

/** The test request of Appendix B.2, as a raw HTTP/1.1 message (CRLF), with the B.2.6 signature. */
export function b26RawRequest(extraHeaders: string[] = []): string {
  return [
    'POST /foo?param=Value&Pet=dog HTTP/1.1',
    'Host: example.com',
    'Date: Tue, 20 Apr 2021 02:07:55 GMT',
    'Content-Type: application/json',
    `Content-Digest: ${B2_SHA512}`,
    'Content-Length: 18',
    ...extraHeaders,
    `Signature-Input: ${B26_SIGNATURE_INPUT}`,
    `Signature: ${B26_SIGNATURE}`,
    '',
    B2_BODY,
  ].join('\r\n');
}

export const B2_HEADERS: Array<[string, string]> = [
  ['Host', 'example.com'],
  ['Date', 'Tue, 20 Apr 2021 02:07:55 GMT'],
  ['Content-Type', 'application/json'],
  ['Content-Digest', B2_SHA512],
  ['Content-Length', '18'],
];
export const B2_TARGET = 'https://example.com/foo?param=Value&Pet=dog';
