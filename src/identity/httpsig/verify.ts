/**
 * Verifying RFC 9421 signatures on requests: required coverage, time window, key, signature
 * (Ed25519), identity status, Content-Digest, then the nonce. Each failure has its own code.
 */
import type { KeyObject } from 'node:crypto';
import { reject } from '../codes.js';
import { ed25519Verify } from '../ed25519.js';
import { signatureBase } from './base.js';
import { type DigestAlgorithm, verifyContentDigest } from './digest.js';
import { parseSignatureFields, type SignatureParams } from './fields.js';
import { fieldValue, type SignedRequest } from './message.js';

export interface RequiredCoverage {
  /** Components that must all be covered (serialized identifiers, e.g. `"@method"` or plain `@method`). */
  components: string[];
  /** At least one of these groups must be fully covered. */
  oneOf?: string[][];
  /** Signature parameters that must be present. */
  params: Array<keyof SignatureParams>;
  /** Require content-digest to be covered when the request has a body. */
  digestWhenBody: boolean;
}

/** What the gateway demands of every agent request. */
export const GATEWAY_COVERAGE: RequiredCoverage = {
  components: ['@method'],
  oneOf: [['@target-uri'], ['@authority', '@path', '@query']],
  params: ['created', 'keyid', 'nonce'],
  digestWhenBody: true,
};

export interface ResolvedKey {
  key: KeyObject;
  /** Runs after the signature verified (e.g. identity revoked/expired); throw to refuse. */
  afterVerify?: () => void;
}

export interface VerifyOptions {
  /** Unix seconds. */
  now: number;
  skewSeconds: number;
  /**
   * Signatures created before this (unix seconds) are refused as possible replays: the nonce cache
   * lives in memory, so a gateway that restarted cannot know which nonces its predecessor saw.
   */
  notBefore?: number;
  /** How far `created` may lie in the future (clock drift, whole-second rounding). Default 2 s. */
  futureToleranceSeconds?: number;
  label?: string;
  required: RequiredCoverage;
  resolveKey(keyid: string | undefined): ResolvedKey;
  /** Called last, with the nonce and until when it must be remembered; throw replayed_nonce to refuse. */
  checkNonce?(keyid: string, nonce: string, untilSeconds: number): void;
}

export interface VerifiedSignature {
  label: string;
  keyid: string | undefined;
  params: SignatureParams;
  covered: string[];
  base: string;
  digest?: DigestAlgorithm[];
}

const ident = (c: string) => (c.startsWith('"') ? c : JSON.stringify(c));

/** A coverage policy with its identifiers serialized once (they are checked on every request). */
interface CompiledCoverage {
  components: string[];
  oneOf: string[][] | undefined;
}
const compiled = new WeakMap<RequiredCoverage, CompiledCoverage>();
function compile(r: RequiredCoverage): CompiledCoverage {
  let c = compiled.get(r);
  if (!c) {
    c = { components: r.components.map(ident), oneOf: r.oneOf?.map((g) => g.map(ident)) };
    compiled.set(r, c);
  }
  return c;
}

/**
 * The signature base as bytes, in a buffer reused across calls: verification is synchronous, so
 * nothing else holds it meanwhile.
 */
let scratch = Buffer.allocUnsafe(8192);
function baseBytes(base: string): Buffer {
  if (base.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(base.length * 3);
  return scratch.subarray(0, scratch.write(base, 0, 'utf8'));
}

interface Prepared {
  result: VerifiedSignature;
  key: ResolvedKey;
  data: Buffer;
  signature: Buffer;
}

function prepare(msg: SignedRequest, o: VerifyOptions): Prepared {
  const input = fieldValue(msg.headers, 'signature-input');
  const sigField = fieldValue(msg.headers, 'signature');
  if (input === undefined || sigField === undefined) throw reject('missing_signature', 'the request is not signed: send Signature-Input and Signature (RFC 9421, ed25519, keyid = your agent id)');
  const parsed = parseSignatureFields(input, sigField, o.label);
  const p = parsed.params;
  if (p.alg !== undefined && p.alg !== 'ed25519') throw reject('unsupported_algorithm', `signature ${parsed.label}: alg ${JSON.stringify(p.alg)} is not accepted (only ed25519)`);
  for (const name of o.required.params) if (p[name] === undefined) throw reject('missing_component', `signature ${parsed.label} lacks the required parameter ${name}`);
  const covered = parsed.identifiers;
  const need = compile(o.required);
  for (const c of need.components) if (!covered.includes(c)) throw reject('missing_component', `signature ${parsed.label} does not cover the required component ${c}`);
  if (need.oneOf && !need.oneOf.some((g) => g.every((c) => covered.includes(c)))) {
    throw reject('missing_component', `signature ${parsed.label} must cover ${need.oneOf.map((g) => g.join(' + ')).join(' or ')}`);
  }
  const hasBody = (msg.body?.length ?? 0) > 0;
  if (hasBody && o.required.digestWhenBody && !covered.includes('"content-digest"')) throw reject('missing_component', `the request has a body, so signature ${parsed.label} must cover "content-digest" (RFC 9530)`);
  if (p.expires !== undefined && p.expires <= o.now) throw reject('signature_expired', `signature ${parsed.label} expired at ${p.expires} (now ${o.now})`);
  if (p.created !== undefined) {
    const tolerance = o.futureToleranceSeconds ?? 2;
    if (p.created > o.now + tolerance) throw reject('clock_skew', `signature ${parsed.label} was created ${p.created - o.now} s in the future; check the agent's clock`);
    if (p.created < o.now - o.skewSeconds) throw reject('clock_skew', `signature ${parsed.label} was created ${o.now - p.created} s ago, more than the allowed ${o.skewSeconds} s`);
    if (o.notBefore !== undefined && p.created < o.notBefore) throw reject('replayed_nonce', `signature ${parsed.label} was created before this gateway started (${o.notBefore - p.created} s earlier), so its nonce cannot be checked against the requests its predecessor saw; sign the request again`);
  }
  const key = o.resolveKey(p.keyid);
  const base = signatureBase(msg, parsed.covered, parsed.signatureParams, parsed.identifiers);
  return {
    result: { label: parsed.label, keyid: p.keyid, params: p, covered: parsed.identifiers, base },
    key,
    data: baseBytes(base),
    signature: parsed.signature,
  };
}

function finish(msg: SignedRequest, o: VerifyOptions, pr: Prepared, ok: boolean): VerifiedSignature {
  const { result } = pr;
  if (!ok) throw reject('bad_signature', `signature ${result.label} does not verify with the key of ${JSON.stringify(result.keyid ?? '(no keyid)')}`);
  pr.key.afterVerify?.();
  const digestField = fieldValue(msg.headers, 'content-digest');
  if (digestField !== undefined) result.digest = verifyContentDigest(digestField, msg.body ?? new Uint8Array());
  else if ((msg.body?.length ?? 0) > 0 && o.required.digestWhenBody) throw reject('missing_component', 'the request has a body but no Content-Digest');
  if (o.checkNonce && result.params.nonce !== undefined) {
    const created = result.params.created ?? o.now;
    const until = Math.min(created + o.skewSeconds, result.params.expires ?? Infinity) + 1;
    o.checkNonce(result.keyid ?? '', result.params.nonce, until);
  }
  return result;
}

/** Verifies synchronously. Throws a ClawguardError whose code says why the request is refused. */
export function verifyRequest(msg: SignedRequest, o: VerifyOptions): VerifiedSignature {
  const pr = prepare(msg, o);
  return finish(msg, o, pr, ed25519Verify(pr.data, pr.signature, pr.key.key));
}
