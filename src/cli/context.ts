/** What every command needs: where the config and state are, and how to reach the running gateway. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { embeddedDefaults, findConfigFile, loadConfigFile, type ClawguardConfig } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import { operatorTokenPath, resolveStateDir } from '../store/index.js';
import { fileURLToPath } from 'node:url';

export interface GlobalOpts {
  config?: string;
  stateDir?: string;
}

export const DEMO_AGENT = fileURLToPath(new URL('../../../examples/agents/demo.js', import.meta.url));

export function loadConfig(g: GlobalOpts): ClawguardConfig {
  const file = findConfigFile(g.config);
  return file ? loadConfigFile(file) : embeddedDefaults(DEMO_AGENT);
}

export function stateDirOf(g: GlobalOpts): string {
  return resolveStateDir(g.stateDir);
}

/** The running gateway's URL and the operator token, found from the state dir. */
export function gatewayConnection(g: GlobalOpts): { url: string; token: string } {
  const dir = stateDirOf(g);
  const infoFile = join(dir, 'gateway.json');
  if (!existsSync(infoFile)) throw new ClawguardError('unavailable', `no running gateway found in ${dir} (start one with "clawguard start", or pass --state-dir)`);
  const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { url: string; pid: number };
  const token = process.env.CLAWGUARD_TOKEN ?? (existsSync(operatorTokenPath(dir)) ? readFileSync(operatorTokenPath(dir), 'utf8').trim() : undefined);
  if (!token) throw new ClawguardError('unauthenticated', `no operator token: set CLAWGUARD_TOKEN or check ${operatorTokenPath(dir)}`);
  return { url: info.url, token };
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
    json = { raw: text };
  }
  return { status: res.statusCode, json };
}

/** Throw the API's own error when the status is not 2xx. */
export function ok(r: { status: number; json: unknown }): unknown {
  if (r.status >= 200 && r.status < 300) return r.json;
  const e = (r.json as { error?: { code?: string; message?: string } })?.error;
  throw new ClawguardError(e?.code ?? 'unavailable', e?.message ?? `gateway answered ${r.status}`);
}

export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
