/**
 * clawguard/client — what outside agents (and the OpenClaw plugin) use to talk to the gateway.
 * Every request is signed (RFC 9421, Ed25519, keyid = agentId) over @method, @target-uri and,
 * with a body, content-type and Content-Digest (RFC 9530); each carries a fresh nonce and created.
 */
import { randomBytes } from 'node:crypto';
import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { contentDigest } from './httpsig/digest.js';
import { type ComponentSpec, signRequest } from './httpsig/sign.js';
import { importPrivateKey, type KeyInput } from './keys.js';
import type { IssuedToken } from './session-tokens.js';

export interface AgentClientOptions {
  /** e.g. "https://127.0.0.1:18789" */
  gatewayUrl: string;
  agentId: string;
  /** Ed25519 private key: PKCS#8 PEM, JWK with "d", or a KeyObject. */
  privateKey: KeyInput;
  /** CA certificate(s) to trust for a gateway with a self-signed certificate (PEM). */
  ca?: string | Buffer;
  /** Also sign `expires` = created + this many seconds. */
  expiresInSeconds?: number;
  /** More header fields to cover (lowercase names); they must be present on every request. */
  coverHeaders?: string[];
  /** Signature label (default "sig1"). */
  label?: string;
}

export interface AgentResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: T;
  text: string;
}

export type ToolCallResult = ({ ok: true; result: unknown } | { ok: false; error: { code: string; message: string } }) & { status: number };

export type SessionInfo = IssuedToken;

export interface SessionClient {
  /** The current token (replaced on rotation, including the gateway's automatic rotation). */
  readonly token: string;
  request<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<AgentResponse<T>>;
  callTool(tool: string, args?: unknown): Promise<ToolCallResult>;
  rotate(): Promise<SessionInfo>;
  revoke(): Promise<void>;
}

export interface AgentClient {
  readonly agentId: string;
  /** A signed request; `body` is sent as JSON unless it is a string or bytes. */
  request<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<AgentResponse<T>>;
  /** POST /v1/tools/<tool> through the gateway's pipeline. */
  callTool(tool: string, args?: unknown): Promise<ToolCallResult>;
  /** The headers to add to a request so it is signed (for other HTTP stacks). */
  signHeaders(method: string, url: string, headers?: Record<string, string>, body?: Uint8Array): Record<string, string>;
  /** Obtains a session token (signed POST /v1/sessions) and returns a client that uses it. */
  createSession(): Promise<SessionClient>;
  close(): Promise<void>;
}

export const ROTATED_TOKEN_HEADER = 'clawguard-session-token';

function encodeBody(body: unknown): { bytes?: Buffer; type?: string } {
  if (body === undefined) return {};
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8'), type: 'application/json' };
  if (body instanceof Uint8Array) return { bytes: Buffer.from(body), type: 'application/octet-stream' };
  return { bytes: Buffer.from(JSON.stringify(body), 'utf8'), type: 'application/json' };
}

async function readResponse<T>(res: Dispatcher.ResponseData): Promise<AgentResponse<T>> {
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.statusCode, headers: res.headers as AgentResponse['headers'], json: json as T, text };
}

function toolResult(r: AgentResponse): ToolCallResult {
  const j = r.json as { ok?: boolean; result?: unknown; error?: { code: string; message: string } } | null;
  if (j && j.ok === true) return { ok: true, result: j.result, status: r.status };
  return { ok: false, error: j?.error ?? { code: 'http_error', message: `gateway answered ${r.status}` }, status: r.status };
}

export function createAgentClient(o: AgentClientOptions): AgentClient {
  const key = importPrivateKey(o.privateKey);
  const base = new URL(o.gatewayUrl);
  const dispatcher = o.ca ? new Agent({ connect: { ca: o.ca } }) : undefined;
  const label = o.label ?? 'sig1';

  const signHeaders = (method: string, url: string, headers: Record<string, string> = {}, body?: Uint8Array): Record<string, string> => {
    const u = new URL(url);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
    const components: ComponentSpec[] = ['@method', '@target-uri'];
    if (body && body.length > 0) {
      out['content-digest'] = contentDigest(body, 'sha-256');
      components.push('content-digest');
      if (out['content-type']) components.push('content-type');
    }
    for (const h of o.coverHeaders ?? []) if (!components.includes(h)) components.push(h.toLowerCase());
    const created = Math.floor(Date.now() / 1000);
    const fields = signRequest(
      { method: method.toUpperCase(), targetUri: `${u.protocol.slice(0, -1)}://${u.host}${u.pathname}${u.search}`, headers: Object.entries(out), ...(body ? { body } : {}) },
      { keyid: o.agentId, privateKey: key, label, components, created, nonce: randomBytes(16).toString('base64url'), ...(o.expiresInSeconds ? { expires: created + o.expiresInSeconds } : {}) },
    );
    out['signature-input'] = fields.signatureInput;
    out.signature = fields.signature;
    return out;
  };

  const send = async <T>(method: string, path: string, body: unknown, headers: Record<string, string>, sign: boolean): Promise<AgentResponse<T>> => {
    const url = new URL(path, base);
    const { bytes, type } = encodeBody(body);
    const h: Record<string, string> = { ...(type ? { 'content-type': type } : {}), ...headers };
    const all = sign ? signHeaders(method, url.href, h, bytes) : h;
    const res = await undiciRequest(url, { method: method.toUpperCase() as Dispatcher.HttpMethod, headers: all, ...(bytes ? { body: bytes } : {}), ...(dispatcher ? { dispatcher } : {}) });
    return readResponse<T>(res);
  };

  const client: AgentClient = {
    agentId: o.agentId,
    request: (method, path, body, headers = {}) => send(method, path, body, headers, true),
    callTool: async (tool, args) => toolResult(await send('POST', `/v1/tools/${encodeURIComponent(tool)}`, args ?? {}, {}, true)),
    signHeaders,
    async createSession() {
      const r = await send<SessionInfo & { error?: { code: string; message: string } }>('POST', '/v1/sessions', undefined, {}, true);
      if (r.status !== 201 && r.status !== 200) throw Object.assign(new Error(r.json?.error?.message ?? `POST /v1/sessions answered ${r.status}`), { code: r.json?.error?.code ?? 'http_error', status: r.status });
      let token = r.json.token;
      const withToken = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AgentResponse<T>> => {
        const res = await send<T>(method, path, body, { ...headers, authorization: `Bearer ${token}` }, false);
        const next = res.headers[ROTATED_TOKEN_HEADER];
        if (typeof next === 'string' && next) token = next;
        return res;
      };
      return {
        get token() {
          return token;
        },
        request: withToken,
        callTool: async (tool, args) => toolResult(await withToken('POST', `/v1/tools/${encodeURIComponent(tool)}`, args ?? {})),
        async rotate() {
          const res = await withToken<SessionInfo & { error?: { code: string; message: string } }>('POST', '/v1/sessions/rotate');
          if (res.status !== 200 && res.status !== 201) throw Object.assign(new Error(res.json?.error?.message ?? `rotation answered ${res.status}`), { code: res.json?.error?.code ?? 'http_error', status: res.status });
          token = res.json.token;
          return res.json;
        },
        async revoke() {
          const res = await withToken<{ error?: { code: string; message: string } }>('DELETE', '/v1/sessions/current');
          if (res.status >= 300) throw Object.assign(new Error(res.json?.error?.message ?? `revocation answered ${res.status}`), { code: res.json?.error?.code ?? 'http_error', status: res.status });
        },
      };
    },
    close: async () => {
      await dispatcher?.close();
    },
  };
  return client;
}
