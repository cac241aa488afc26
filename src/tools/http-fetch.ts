/**
 * http.fetch: the egress guard decides the destination (allow list, SSRF, pinned address, each
 * redirect re-checked). Secrets are named, never seen: `auth: {secret, scheme}` or a header value
 * `{"$secret": name}`; the broker injects the value per hop only where that secret may go.
 */
import { z } from 'zod';
import { ClawguardError } from '../errors/index.js';
import type { Principal } from '../pipeline/index.js';
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

export function httpFetchTool(sandboxes: SandboxDirectory, deps: { inject?: SecretInjector; maxResponseBytes: number; timeoutMs: number }): ToolDefinition<Args> {
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
      const res = await sb.egress.fetch(a.url, {
        method: a.method,
        headers: plain,
        ...(a.body !== undefined ? { body: a.body } : {}),
        maxResponseBytes: Math.min(a.maxBytes ?? deps.maxResponseBytes, deps.maxResponseBytes),
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
      const text = res.body.toString('utf8');
      const isText = Buffer.from(text, 'utf8').equals(res.body);
      return {
        status: res.status,
        headers: res.headers,
        body: isText ? text : res.body.toString('base64'),
        bodyEncoding: isText ? 'utf8' : 'base64',
        truncated: res.truncated,
        finalUrl: res.finalUrl,
        redirects: res.redirects,
      };
    },
  };
}
