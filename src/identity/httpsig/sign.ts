/** Creating RFC 9421 signatures (Ed25519) over a request. */
import type { KeyObject } from 'node:crypto';
import { type BareItem, type InnerList, type Item, serializeInnerList } from 'structured-headers';
import { ed25519Sign } from '../ed25519.js';
import { signatureBase } from './base.js';
import type { SignedRequest } from './message.js';

/** A component: a plain name ("@method", "content-digest") or name + parameters. */
export type ComponentSpec = string | readonly [string, Record<string, string | boolean>];

export interface SignOptions {
  keyid: string;
  privateKey: KeyObject;
  label?: string;
  components: readonly ComponentSpec[];
  /**
   * Signature parameters in the order they are serialized. Default:
   * created (now), expires (if given), nonce (if given), alg "ed25519", keyid.
   */
  params?: ReadonlyArray<readonly [string, string | number]>;
  created?: number;
  expires?: number;
  nonce?: string;
}

export interface SignatureFields {
  signatureInput: string;
  signature: string;
  base: string;
}

function item(c: ComponentSpec): Item {
  if (typeof c === 'string') return [c, new Map()];
  return [c[0], new Map(Object.entries(c[1]) as Array<[string, BareItem]>)];
}

export function signRequest(msg: SignedRequest, o: SignOptions): SignatureFields {
  const label = o.label ?? 'sig1';
  const params: ReadonlyArray<readonly [string, string | number]> = o.params ?? [
    ['created', o.created ?? Math.floor(Date.now() / 1000)],
    ...(o.expires !== undefined ? [['expires', o.expires] as const] : []),
    ...(o.nonce !== undefined ? [['nonce', o.nonce] as const] : []),
    ['alg', 'ed25519'],
    ['keyid', o.keyid],
  ];
  const inner: InnerList = [o.components.map(item), new Map(params.map(([k, v]) => [k, v] as [string, BareItem]))];
  const serialized = serializeInnerList(inner);
  const base = signatureBase(msg, inner[0], serialized);
  const sig = ed25519Sign(Buffer.from(base, 'utf8'), o.privateKey);
  return { signatureInput: `${label}=${serialized}`, signature: `${label}=:${sig.toString('base64')}:`, base };
}
