/**
 * OpenClaw's exec secret-provider protocol, version 1, both ways:
 *   request  (stdin):  {"protocolVersion":1,"provider":"<alias>","ids":["<id>",...]}
 *   response (stdout): {"protocolVersion":1,"values":{"<id>":"<value>"},"errors":{"<id>":{"code":"NOT_FOUND","message":"..."}}}
 * The broker speaks it as a client (source "exec") and `clawguard secrets resolve` as a resolver.
 */
import { ClawguardError } from '../errors/index.js';

export const EXEC_PROTOCOL_VERSION = 1;
/** The id syntax OpenClaw accepts for exec refs. */
export const EXEC_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$/;

export interface ExecRequest {
  protocolVersion: 1;
  provider: string;
  ids: string[];
}

export type ExecErrorCode = 'NOT_FOUND' | 'ACCESS_DENIED' | 'UNAVAILABLE' | 'INVALID_REQUEST' | 'INTERNAL_ERROR';

export interface ExecResponse {
  protocolVersion: 1;
  values: Record<string, string>;
  errors?: Record<string, { code: ExecErrorCode | string; message: string }>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function buildRequest(provider: string, ids: string[]): string {
  return JSON.stringify({ protocolVersion: EXEC_PROTOCOL_VERSION, provider, ids } satisfies ExecRequest);
}

/** Validates a request read by a resolver; throws bad_request naming what is wrong. */
export function parseRequest(text: string): ExecRequest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ClawguardError('bad_request', `exec protocol: request is not JSON (${(e as Error).message})`);
  }
  if (!isObj(v)) throw new ClawguardError('bad_request', 'exec protocol: request must be a JSON object');
  if (v.protocolVersion !== EXEC_PROTOCOL_VERSION) throw new ClawguardError('bad_request', `exec protocol: protocolVersion must be 1, got ${JSON.stringify(v.protocolVersion)}`);
  if (!Array.isArray(v.ids) || !v.ids.every((i) => typeof i === 'string')) throw new ClawguardError('bad_request', 'exec protocol: ids must be an array of strings');
  if (v.provider !== undefined && typeof v.provider !== 'string') throw new ClawguardError('bad_request', 'exec protocol: provider must be a string');
  return { protocolVersion: 1, provider: (v.provider as string | undefined) ?? '', ids: v.ids as string[] };
}

/** Reads a resolver's answer for `id`; a per-id error or a missing id is a fail-closed error. */
export function valueFromResponse(text: string, id: string, who: string): string {
  let v: unknown;
  try {
    v = JSON.parse(text.trim());
  } catch {
    throw new ClawguardError('secret_unavailable', `${who}: stdout is not JSON`);
  }
  if (!isObj(v)) throw new ClawguardError('secret_unavailable', `${who}: response must be a JSON object`);
  if (v.protocolVersion !== EXEC_PROTOCOL_VERSION) throw new ClawguardError('secret_unavailable', `${who}: protocolVersion must be 1, got ${JSON.stringify(v.protocolVersion)}`);
  const errors = isObj(v.errors) ? v.errors : {};
  const err = errors[id];
  if (err !== undefined) {
    const e = isObj(err) ? err : {};
    const code = typeof e.code === 'string' ? e.code : 'ERROR';
    const message = typeof e.message === 'string' ? e.message : typeof err === 'string' ? err : 'no message';
    throw new ClawguardError('secret_unavailable', `${who}: id "${id}": ${code}: ${message.slice(0, 200)}`);
  }
  if (!isObj(v.values)) throw new ClawguardError('secret_unavailable', `${who}: response has no "values" object`);
  if (!(id in v.values)) throw new ClawguardError('secret_unavailable', `${who}: response has no value for id "${id}"`);
  const value = v.values[id];
  if (typeof value !== 'string') throw new ClawguardError('secret_unavailable', `${who}: value for id "${id}" is not a string`);
  if (value.length === 0) throw new ClawguardError('secret_unavailable', `${who}: value for id "${id}" is empty`);
  return value;
}

export function formatResponse(values: Record<string, string>, errors: Record<string, { code: string; message: string }>): string {
  return JSON.stringify({ protocolVersion: EXEC_PROTOCOL_VERSION, values, ...(Object.keys(errors).length ? { errors } : {}) });
}
