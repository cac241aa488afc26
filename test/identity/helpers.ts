/** Helpers for the identity tests: register agents over the operator API, hand-craft signed requests. */
import { randomBytes, type KeyObject } from 'node:crypto';
import { request } from 'undici';
import { contentDigest, type ComponentSpec, generateEd25519, publicKeyPem, signRequest } from '../../src/identity/index.js';
import type { TestGateway } from '../helpers/gateway.js';

export interface TestAgent {
  agentId: string;
  privateKey: KeyObject;
  publicPem: string;
}

export async function registerAgent(g: TestGateway, agentId: string, extra: Record<string, unknown> = {}): Promise<TestAgent> {
  const { privateKey, publicKey } = generateEd25519();
  const publicPem = publicKeyPem(publicKey);
  const r = await g.call('POST', '/v1/agents', { agentId, publicKey: publicPem, ...extra });
  if (r.status !== 201) throw new Error(`registration of ${agentId} failed: ${r.status} ${r.text}`);
  return { agentId, privateKey, publicPem };
}

export interface CraftOptions {
  method?: string;
  path: string;
  body?: string;
  keyid?: string;
  components?: ComponentSpec[];
  /** Replaces the signature parameters entirely (ordered). */
  params?: Array<[string, string | number]>;
  created?: number;
  nonce?: string;
  expires?: number;
  extraHeaders?: Record<string, string>;
  /** Called with the final headers just before sending (to tamper). */
  tamper?: (h: Record<string, string>) => void;
  /** Body actually sent (to send something other than what was signed). */
  sendBody?: string;
  label?: string;
}

/** Signs exactly as told (like a client library would, or wouldn't) and sends it over real HTTP. */
export async function craft(url: string, agent: TestAgent, o: CraftOptions): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const method = o.method ?? 'POST';
  const u = new URL(o.path, url);
  const headers: Record<string, string> = { ...(o.extraHeaders ?? {}) };
  const body = o.body !== undefined ? Buffer.from(o.body) : undefined;
  if (body) {
    headers['content-type'] ??= 'application/json';
    headers['content-digest'] ??= contentDigest(body);
  }
  const components = o.components ?? ['@method', '@target-uri', ...(body ? ['content-digest', 'content-type'] : [])];
  const created = o.created ?? Math.floor(Date.now() / 1000);
  const keyid = o.keyid ?? agent.agentId;
  const fields = signRequest(
    { method, targetUri: `${u.protocol.slice(0, -1)}://${u.host}${u.pathname}${u.search}`, headers: Object.entries(headers), ...(body ? { body } : {}) },
    {
      keyid,
      privateKey: agent.privateKey,
      components,
      ...(o.label ? { label: o.label } : {}),
      params: o.params ?? [['created', created], ...(o.expires !== undefined ? [['expires', o.expires] as [string, number]] : []), ['nonce', o.nonce ?? randomBytes(12).toString('base64url')], ['alg', 'ed25519'], ['keyid', keyid]],
    },
  );
  headers['signature-input'] = fields.signatureInput;
  headers.signature = fields.signature;
  o.tamper?.(headers);
  const sent = o.sendBody !== undefined ? Buffer.from(o.sendBody) : body;
  const res = await request(u, { method: method as 'POST', headers, ...(sent ? { body: sent } : {}) });
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, json, headers: res.headers as Record<string, unknown> };
}

export const ZERO_TRUST = (o: { signAllRequests?: boolean; rateLimit?: boolean; sessionTokenRotation?: boolean; requireAuthentication?: boolean; encryptAllTraffic?: boolean } = {}, extra: Record<string, unknown> = {}) => ({
  security: {
    zeroTrust: {
      enabled: true,
      policies: {
        agentCommunication: { requireAuthentication: o.requireAuthentication ?? true, encryptAllTraffic: o.encryptAllTraffic ?? false, signAllRequests: o.signAllRequests ?? false },
        externalAPI: { rateLimit: o.rateLimit ?? false },
        dataAccess: { sessionTokenRotation: o.sessionTokenRotation ?? false },
      },
      ...extra,
    },
  },
});

/** A profile that grants system.time, for agents bound to it. */
export const TOOLS_PROFILE = { tools: { allow: ['system.time'] }, warmPool: 0 };
