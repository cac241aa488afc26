/**
 * http.fetch: the egress guard decides the destination (allow list, SSRF, pinned address, each
 * redirect re-checked) and undoes the body's codings. Secrets are named, never seen: `auth: {secret,
 * scheme}` or a header value `{"$secret": name}`; the broker injects the value per hop only where
 * that secret may go. What comes back is redacted whole — body, headers, final URL, redirects — and
 * only then cut to maxBytes (secrets/redact/response.ts), so no choice of the agent's shows a part of a value.
 */
import { z } from 'zod';
import { ClawguardError } from '../errors/index.js';
import type { Principal } from '../pipeline/index.js';
import { agentBody, readAhead, type BodyRedactor } from '../secrets/redact/response.js';
import { digestOf } from './audit-args.js';
import type { ToolDefinition } from './registry.js';
import type { SandboxDirectory } from './sandboxes.js';

/** The broker's injection call: grant + allowed-host check + audit, returning the value. */
export type SecretInjector = (principal: Principal, secretName: string, destination: URL) => Promise<string>;

const secretRef = z.object({ $secret: z.string().min(1) }).strict();
const args = z
  .object({
    url: z.string().min(1).max(8192),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    headers: z.record(z.union([z.string(), secretRef])).default({}),
    body: z.string().optional(),
    auth: z.object({ secret: z.string().min(1), scheme: z.enum(['bearer', 'basic', 'header']).default('bearer'), header: z.string().min(1).optional() }).strict().optional(),
    maxBytes: z.number().int().positive().optional(),
    timeoutMs: z.number().int().positive().optional(),
  })
  .strict();
type Args = z.infer<typeof args>;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The redactor as http.fetch uses it: the body (bounded) and the rest of the result. */
export interface FetchRedactor extends BodyRedactor {
  filter(value: unknown, where?: string): unknown;
}

export function httpFetchTool(sandboxes: SandboxDirectory, deps: { inject?: SecretInjector; redactor?: FetchRedactor; maxResponseBytes: number; timeoutMs: number }): ToolDefinition<Args> {
  return {
    name: 'http.fetch',
    description: 'Fetch an http(s) URL on the allow list; name secrets to inject, never their values.',
    args: args as unknown as z.ZodType<Args, z.ZodTypeDef, unknown>,
    resource: (a) => {
      try {
        return new URL(a.url).host;
      } catch {
        return undefined;
      }
    },
    audit: ({ body, ...rest }) => ({ ...rest, ...(body !== undefined ? { body: digestOf(body) } : {}) }),
    async execute(a, ctx) {
      const plain: Record<string, string> = {};
      const secretHeaders: Array<{ name: string; secret: string; format: (v: string) => string }> = [];
      for (const [name, v] of Object.entries(a.headers)) {
        if (!HEADER_NAME.test(name)) throw new ClawguardError('bad_request', `http.fetch: invalid header name ${JSON.stringify(name)}`);
        if (typeof v === 'string') plain[name.toLowerCase()] = v;
        else secretHeaders.push({ name: name.toLowerCase(), secret: v.$secret, format: (x) => x });
      }
      if (a.auth) {
        const { secret, scheme, header } = a.auth;
        if (scheme === 'header' && !header) throw new ClawguardError('bad_request', 'http.fetch: auth.scheme "header" needs auth.header');
        secretHeaders.push({
          name: scheme === 'header' ? header!.toLowerCase() : 'authorization',
          secret,
          format: scheme === 'bearer' ? (x) => `Bearer ${x}` : scheme === 'basic' ? (x) => `Basic ${Buffer.from(x).toString('base64')}` : (x) => x,
        });
      }
      if (secretHeaders.length && !deps.inject) throw new ClawguardError('secret_unavailable', 'http.fetch: no secrets broker is configured; secret injection is refused');
      const sb = sandboxes.for(ctx.principal);
      const maxBytes = Math.min(a.maxBytes ?? deps.maxResponseBytes, deps.maxResponseBytes);
      const res = await sb.egress.fetch(a.url, {
        method: a.method,
        headers: plain,
        ...(a.body !== undefined ? { body: a.body } : {}),
        // Read past the limit, so that a value crossing it is read (and redacted) whole.
        maxResponseBytes: maxBytes + readAhead(deps.redactor),
        timeoutMs: Math.min(a.timeoutMs ?? deps.timeoutMs, deps.timeoutMs),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        // Re-decided on every hop: a redirect to another host gets the secret only if that host may have it.
        ...(secretHeaders.length
          ? {
              beforeHop: async (url: string) => {
                const out: Record<string, string> = {};
                for (const h of secretHeaders) out[h.name] = h.format(await deps.inject!(ctx.principal, h.secret, new URL(url)));
                return out;
              },
            }
          : {}),
      });
      const ct = res.headers['content-type'];
      const body = await agentBody(res.body, deps.redactor, { maxBytes, truncated: res.truncated, charsets: true, where: 'http.fetch', ...(typeof ct === 'string' ? { contentType: ct } : {}) });
      const headers = { ...res.headers };
      // The length of what was received would measure what was redacted (or, encoded, how well it compressed).
      if (body.changed) delete headers['content-length'];
      const rest = { headers, finalUrl: res.finalUrl, redirects: res.redirects };
      const safe = (deps.redactor ? deps.redactor.filter(rest, 'http.fetch') : rest) as typeof rest;
      const decoded = [...res.decoded, ...body.decoded];
      return {
        status: res.status,
        headers: safe.headers,
        body: body.body,
        bodyEncoding: body.bodyEncoding,
        truncated: body.truncated,
        finalUrl: safe.finalUrl,
        redirects: safe.redirects,
        ...(decoded.length ? { decoded } : {}),
      };
    },
  };
}
