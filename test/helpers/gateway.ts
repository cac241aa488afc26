/** Starts a real gateway on a loopback port in a temporary state dir, with a silent logger. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/server/index.js';

export interface TestGateway {
  gw: Gateway;
  url: string;
  token: string;
  dir: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; headers: Record<string, unknown>; text: string }>;
  close(): Promise<void>;
}

/**
 * Let disposed isolates finish tearing down and collect their host-side handles while Node is still
 * running: isolated-vm aborts if such a finalizer runs during Node's own teardown (seen with coverage on).
 */
export async function settleIsolates(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc?.();
  }
}

/** A fresh directory under `base` (default the system temp dir). */
export function tempDir(prefix = 'cg-test-', base: string = tmpdir()): string {
  return mkdtempSync(join(base, prefix));
}

/** Write an agent module into `dir` and return its path. */
export function writeAgent(dir: string, name: string, code: string): string {
  const p = join(dir, name);
  writeFileSync(p, code);
  return p;
}

/**
 * `baseDir`: where the state dir and config live (a config that allows all of /tmp needs them elsewhere).
 * `extraTools`: names of tools the test registers itself, which the config may then name.
 */
export async function startGateway(rawConfig: unknown, opts: { logLines?: unknown[]; baseDir?: string; extraTools?: string[] } = {}): Promise<TestGateway> {
  const dir = tempDir('cg-test-', opts.baseDir);
  const config = parseConfig(rawConfig, join(dir, 'clawguard.json'), opts.extraTools ? { extraTools: opts.extraTools } : {});
  const logger = opts.logLines
    ? pino({ level: 'debug' }, { write: (s: string) => void opts.logLines!.push(JSON.parse(s)) })
    : pino({ level: 'silent' });
  const gw = new Gateway({ config, stateDir: join(dir, 'state'), port: 0, logger });
  let info: Awaited<ReturnType<Gateway['start']>>;
  try {
    info = await gw.start();
  } catch (e) {
    // A refused start (the test may expect it) must not leave the store and audit log open.
    await gw.stop(0).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await request(info.url + path, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${gw.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode, json, headers: res.headers as Record<string, unknown>, text };
  };
  return {
    gw,
    url: info.url,
    token: gw.token,
    dir,
    call,
    close: async () => {
      await gw.stop(2000);
      rmSync(dir, { recursive: true, force: true });
      await settleIsolates();
    },
  };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
