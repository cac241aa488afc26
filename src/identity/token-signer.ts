/**
 * The gateway's own Ed25519 key for the JWTs it issues (session and run tokens), kept in the
 * state dir (0600). EdDSA via jose; issuer, audience, type and expiry are always checked.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { errors as joseErrors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { readOrCreateSecretFile } from '../store/index.js';
import { reject } from './codes.js';
import { generateEd25519, importPrivateKey, importPublicKey, keyThumbprint, privateKeyPem } from './keys.js';

export const ISSUER = 'clawguard';
export const AUDIENCE = 'clawguard:agent';
export type TokenType = 'session' | 'run';

export interface TokenInput {
  sub: string;
  jti: string;
  exp: number;
  iat: number;
  typ: TokenType;
  sid?: string;
  run_id?: string;
  profile?: string;
}

export type TokenClaims = JWTPayload & TokenInput;

export class TokenSigner {
  readonly kid: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(stateDir: string) {
    const pem = readOrCreateSecretFile(join(stateDir, 'identity-token-key.pem'), () => privateKeyPem(generateEd25519().privateKey).trim());
    this.privateKey = importPrivateKey(pem, 'the gateway token key');
    this.publicKey = importPublicKey(this.privateKey);
    this.kid = keyThumbprint(this.publicKey);
  }

  sign(claims: TokenInput): Promise<string> {
    const { iat, exp, sub, jti, ...rest } = claims;
    return new SignJWT(rest).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: this.kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(sub).setJti(jti).setIssuedAt(iat).setExpirationTime(exp).sign(this.privateKey);
  }

  /** Verifies signature, issuer, audience and expiry at `nowMs`; throws token_invalid / token_expired. */
  async verify(token: string, nowMs: number): Promise<TokenClaims> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.publicKey, { algorithms: ['EdDSA'], issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(nowMs), requiredClaims: ['sub', 'jti', 'exp', 'iat'] }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw reject('token_expired', 'the token has expired; request a new one with a signed POST /v1/sessions');
      throw reject('token_invalid', 'the bearer token is not a valid clawguard agent token');
    }
    if (payload.typ !== 'session' && payload.typ !== 'run') throw reject('token_invalid', 'the bearer token has an unknown type');
    return payload as TokenClaims;
  }
}

/** Compact JWS shape (header.payload.signature), without checking anything. */
export function looksLikeJwt(s: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s);
}
