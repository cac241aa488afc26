/** What every command needs: where the config and state are, and how to reach the running gateway. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { embeddedDefaults, findConfigFile, loadConfigFile, type ClawguardConfig } from '../config/index.js';
import { ClawguardError, isErrorCode } from '../errors/index.js';
import { operatorTokenPath, resolveStateDir } from '../store/index.js';
import { fileURLToPath } from 'node:url';

export interface GlobalOpts {
  config?: string;
  stateDir?: string;
  /** The gateway to talk to (else CLAWGUARD_URL, else the state dir's gateway.json). */
  url?: string;
}

export const DEMO_AGENT = fileURLToPath(new URL('../../../examples/agents/demo.js', import.meta.url));

export function loadConfig(g: GlobalOpts): ClawguardConfig {
  const file = findConfigFile(g.config);
  return file ? loadConfigFile(file) : embeddedDefaults(DEMO_AGENT);
}

export function stateDirOf(g: GlobalOpts): string {
  return resolveStateDir(g.stateDir);
}

/**
 * The state dir of a read-only command: it must already exist (a read never creates one). Throws
 * not_found saying where it looked and how to point elsewhere.
 */
export function existingStateDir(g: GlobalOpts): string {
  const dir = stateDirOf(g);
  if (!existsSync(dir)) throw new ClawguardError('not_found', `no clawguard state in ${dir} (no gateway has run with it; pass --state-dir or set CLAWGUARD_STATE_DIR to use another)`);
  return dir;
}

/** The gateway URL the operator named, if any: --url, then CLAWGUARD_URL. */
export function explicitUrl(g: GlobalOpts): string | undefined {
  return g.url || process.env.CLAWGUARD_URL || undefined;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** A gateway URL checked before any token is sent to it: http(s), no credentials or path tricks. */
function parseGatewayUrl(raw: string, from: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ClawguardError('bad_request', `${from}: not a URL: ${JSON.stringify(raw.slice(0, 200))} (expected e.g. http://127.0.0.1:18780)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ClawguardError('bad_request', `${from}: expected an http:// or https:// URL, got ${u.protocol}`);
  if (u.username || u.password) throw new ClawguardError('bad_request', `${from}: credentials in the URL are not used; the operator token comes from CLAWGUARD_TOKEN or the state dir`);
  if (u.protocol === 'http:' && !LOOPBACK.test(u.hostname)) throw new ClawguardError('bad_request', `${from}: refusing to send the operator token in clear text to ${u.host}; use https://`);
  return u;
}

function readInfo(infoFile: string): { url?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(infoFile, 'utf8')) as { url?: unknown };
  } catch {
    return undefined;
  }
}

/**
 * The running gateway's URL and the operator token. The URL comes from --url, CLAWGUARD_URL, or the
 * state dir's gateway.json; the token from CLAWGUARD_TOKEN or the state dir's operator.token. The
 * state dir's token goes only to the gateway of that state dir or to a loopback address: naming a
 * remote --url does not hand it this host's operator token (set CLAWGUARD_TOKEN for that one).
 */
export function gatewayConnection(g: GlobalOpts): { url: string; token: string } {
  const dir = stateDirOf(g);
  const infoFile = join(dir, 'gateway.json');
  const info = existsSync(infoFile) ? readInfo(infoFile) : undefined;
  const named = explicitUrl(g);
  let url: URL;
  if (named) url = parseGatewayUrl(named, g.url ? '--url' : 'CLAWGUARD_URL');
  else if (info && typeof info.url === 'string') url = parseGatewayUrl(info.url, infoFile);
  else if (info) throw new ClawguardError('unavailable', `${infoFile} is unreadable: is a gateway running? (restart it, or pass --url)`);
  else throw new ClawguardError('unavailable', `no running gateway found in ${dir} (start one with "clawguard start", or pass --state-dir or --url)`);
  const base = url.href.replace(/\/+$/, '');
  const envToken = process.env.CLAWGUARD_TOKEN;
  if (envToken) return { url: base, token: envToken };
  const own = typeof info?.url === 'string' && info.url.replace(/\/+$/, '') === base;
  if (!own && !LOOPBACK.test(url.hostname)) throw new ClawguardError('unauthenticated', `no operator token for ${url.host}: set CLAWGUARD_TOKEN (the state dir's token is only sent to its own gateway or to loopback)`);
  const tokenFile = operatorTokenPath(dir);
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined;
  if (!token) throw new ClawguardError('unauthenticated', `no operator token: set CLAWGUARD_TOKEN or check ${tokenFile}`);
  return { url: base, token };
}

export async function api(g: GlobalOpts, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const { url, token } = gatewayConnection(g);
  let res;
  try {
    res = await request(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new ClawguardError('unavailable', `cannot reach the gateway at ${url}: ${(e as Error).message} (is it running?)`);
  }
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Whatever answered there is not a clawguard gateway (a wrong --url, a proxy's error page).
    throw new ClawguardError('unavailable', `the server at ${url} did not answer as a clawguard gateway (HTTP ${res.statusCode}, ${String(res.headers['content-type'] ?? 'no content type')}): check --url / CLAWGUARD_URL`);
  }
  return { status: res.statusCode, json };
}

/** Throw the API's own error when the status is not 2xx. */
export function ok(r: { status: number; json: unknown }): unknown {
  if (r.status >= 200 && r.status < 300) return r.json;
  const e = (r.json as { error?: { code?: string; message?: string } })?.error;
  // The code is the gateway's; one this CLI does not know (another version) is kept in the message.
  const known = isErrorCode(e?.code) ? e.code : undefined;
  const message = e?.message ?? `gateway answered ${r.status}`;
  throw new ClawguardError(known ?? 'unavailable', known || e?.code === undefined ? message : `${e.code}: ${message}`);
}

export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
