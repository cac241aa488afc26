/**
 * How a model call leaves the gateway: through the principal's egress guard (the one http.fetch
 * uses), narrowed to the provider's configured origin. The guard resolves the host once, refuses
 * private, loopback and metadata addresses unless allowed, and pins the connection to the checked
 * address. A redirect is not followed: a model API has no reason to send one, and following it would
 * carry the conversation (and the key, on the same origin) somewhere the operator did not configure.
 */
import type { ModelProviderConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import type { EgressGuard } from '../../sandbox/index.js';

/** Longest provider error body shown to the agent (whole, after redaction by the pipeline). */
const MAX_ERROR_SHOWN = 4096;
/** Longest reply read from a provider; a larger one is refused rather than handed on. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** What a provider call needs besides the request: the guard it goes through and the run's signal. */
export interface ModelTransport {
  egress: EgressGuard;
  signal?: AbortSignal;
}

/** The origin a baseUrl names, as a destination pattern with its port written out (`http://127.0.0.1:8000`). */
export function providerOrigin(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new ClawguardError('model_error', 'model provider baseUrl is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ClawguardError('host_blocked', `model provider baseUrl scheme "${u.protocol.replace(/:$/, '')}" is not http or https`);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return `${u.protocol}//${u.hostname}:${port}`;
}

/** Codes the guard answers that mean "could not talk to it" rather than "may not": reported as model_error, as before. */
const UNREACHABLE = new Set(['tool_failed', 'not_found']);

/** The guard's lists for a call to this provider: its origin only, private when the provider says so. */
function scopeOf(provider: ModelProviderConfig): { allowedDomains: string[]; allowPrivate?: string[] } {
  const origin = providerOrigin(provider.baseUrl);
  return { allowedDomains: [origin], ...(provider.allowPrivate ? { allowPrivate: [origin] } : {}) };
}

/** Would the guard let a call to this provider through? Asked before its API key is fetched, so a refused provider never gets one. */
export async function checkProvider(provider: ModelProviderConfig, egress: EgressGuard, signal?: AbortSignal): Promise<void> {
  // A resolver that never answers must not hold the call past the provider's timeout.
  const timeout = AbortSignal.timeout(provider.timeoutMs);
  try {
    await egress.check(provider.baseUrl, { ...scopeOf(provider), signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (e) {
    throw asModelError(provider, e);
  }
}

/** The guard's refusal as the agent sees it: a block stays a block (with a hint), a failure to connect is a model_error. */
function asModelError(provider: ModelProviderConfig, e: unknown): unknown {
  if (e instanceof ClawguardError && e.code === 'host_blocked' && /reachable only when listed in allowPrivate/.test(e.message)) {
    // Same refusal, with the setting that is meant for a model server on a private address.
    return new ClawguardError('host_blocked', `${e.message} (or set models.${provider.name}.allowPrivate: true for this provider)`, e.details ? { details: e.details } : {});
  }
  if (e instanceof ClawguardError && !UNREACHABLE.has(e.code)) return e;
  return new ClawguardError('model_error', `model provider at ${providerOrigin(provider.baseUrl)} unreachable: ${(e as Error).message}`);
}

export async function post(provider: ModelProviderConfig, url: string, headers: Record<string, string>, body: unknown, t: ModelTransport): Promise<unknown> {
  const origin = providerOrigin(provider.baseUrl);
  if (providerOrigin(url) !== origin) throw new ClawguardError('host_blocked', `model call to ${new URL(url).origin} is outside the provider's origin ${origin}`);
  let res;
  try {
    res = await t.egress.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      ...scopeOf(provider),
      followRedirects: false,
      // One byte past the cap tells a reply at the cap from a larger one.
      maxResponseBytes: MAX_REPLY_BYTES + 1,
      timeoutMs: provider.timeoutMs,
      ...(t.signal ? { signal: t.signal } : {}),
    });
  } catch (e) {
    throw asModelError(provider, e);
  }
  if (res.truncated || res.body.length > MAX_REPLY_BYTES) throw new ClawguardError('model_error', `model provider reply is larger than ${MAX_REPLY_BYTES} bytes`);
  const text = res.body.toString('utf8');
  if (res.status >= 300 && res.status < 400) {
    // Not followed (see above); where it pointed is not shown, it may be anything the provider chose.
    throw new ClawguardError('model_error', `model provider answered ${res.status} (a redirect; model calls do not follow redirects)`);
  }
  if (res.status >= 400) {
    // Shown whole or not at all: a cut the agent can steer (by padding what the provider echoes)
    // would hand it the part of an echoed key before the cut, which redaction cannot recognise.
    const shown = text.length <= MAX_ERROR_SHOWN ? text : `(${Buffer.byteLength(text)} bytes, not shown)`;
    throw new ClawguardError('model_error', `model provider answered ${res.status}: ${shown}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ClawguardError('model_error', 'model provider answered with invalid JSON');
  }
}
