/**
 * The `audit` section: retention, checkpoints, and the witnesses the log's signed heads are
 * published to. Each witness is exactly one of
 *   {"dir": PATH}                        a directory on another path or mount
 *   {"url": URL}                         a witness server's log URL (clawguard audit witness serve)
 *   {"syslog": true}                     syslog via /dev/log (util-linux logger)
 *   {"syslog": {"socket": PATH}}         syslog via that Unix socket
 *   {"syslog": {"udp": "HOST:PORT"}}     RFC 5424 over UDP
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { intSeconds, positiveInt } from './bounded.js';

const seconds = (min: number, max: number) =>
  z.unknown().superRefine((v, ctx) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a number of seconds from ${min} to ${max}, got ${JSON.stringify(v)}` });
  }) as unknown as z.ZodType<number>;


const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/;

const syslogTarget = z.union([
  z.literal(true),
  z
    .object({
      socket: z.string().min(1).optional(),
      udp: z.string().regex(HOST_PORT, 'expected HOST:PORT (an IPv6 address in brackets)').optional(),
      tag: z.string().regex(/^[A-Za-z0-9._-]{1,48}$/, 'expected 1-48 letters, digits, dots, dashes or underscores').optional(),
    })
    .strict()
    .refine((s) => !(s.socket && s.udp), 'name a socket or a udp target, not both'),
]);

const witness = z
  .object({
    dir: z.string().min(1).optional(),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'expected an http:// or https:// URL')
      .optional(),
    syslog: syslogTarget.optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    const n = [w.dir, w.url, w.syslog].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a witness is exactly one of {"dir": PATH}, {"url": URL} or {"syslog": true | {...}}' });
  });

export const auditSchema = z
  .object({
    retentionDays: positiveInt('days', 36_500, '100 years').optional(),
    checkpointEvery: positiveInt('events').optional(),
    checkpointSeconds: intSeconds(86_400).optional(),
    witness: z.array(witness).max(16).optional(),
    /** How often the signed head is published to the witnesses when the log grew. */
    witnessSeconds: seconds(0.1, 3600).optional(),
  })
  .strict();

export type WitnessConfig =
  | { kind: 'dir'; dir: string }
  | { kind: 'url'; url: string }
  | { kind: 'syslog'; socket?: string; udp?: { host: string; port: number }; tag?: string };

export interface AuditConfig {
  retentionDays: number;
  checkpointEvery: number;
  checkpointSeconds: number;
  witness: WitnessConfig[];
  witnessSeconds: number;
}

export function normalizeAudit(raw: z.infer<typeof auditSchema> | undefined, baseDir: string): AuditConfig {
  const witness = (raw?.witness ?? []).map((w): WitnessConfig => {
    if (w.dir !== undefined) return { kind: 'dir', dir: resolve(baseDir, w.dir) };
    if (w.url !== undefined) return { kind: 'url', url: w.url };
    const s = w.syslog === true || w.syslog === undefined ? {} : w.syslog;
    const m = s.udp ? HOST_PORT.exec(s.udp) : null;
    return { kind: 'syslog', ...(s.socket ? { socket: resolve(baseDir, s.socket) } : {}), ...(m ? { udp: { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } } : {}), ...(s.tag ? { tag: s.tag } : {}) };
  });
  return {
    retentionDays: raw?.retentionDays ?? 90,
    checkpointEvery: raw?.checkpointEvery ?? 1000,
    checkpointSeconds: raw?.checkpointSeconds ?? 60,
    witness,
    witnessSeconds: raw?.witnessSeconds ?? 1,
  };
}
