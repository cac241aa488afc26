/**
 * fs.read, fs.write, fs.list, fs.stat. `prepare` turns the agent's path into the canonical path the
 * tool will open (the path guard's one canonicalisation), so policy, audit and guard all see that
 * path; execute then opens exactly it (`exact`), and a change in between fails the call. fs.read
 * content is text when the bytes are UTF-8, base64 otherwise.
 */
import { z } from 'zod';
import { agentBody, readAhead, type BodyRedactor } from '../secrets/redact/response.js';
import { digestOf } from './audit-args.js';
import type { ToolCallContext } from '../pipeline/index.js';
import type { ToolDefinition } from './registry.js';
import type { SandboxDirectory } from './sandboxes.js';

const path = z.string().min(1).max(4096);

/** The canonical path for this principal's sandbox, in the mode the tool will use it. */
function canonicalPath(sandboxes: SandboxDirectory, mode: 'read' | 'write') {
  return <A extends { path: string }>(a: A, ctx: ToolCallContext): A => ({ ...a, path: sandboxes.for(ctx.principal).paths.canonical(a.path, mode) });
}

export function fsTools(sandboxes: SandboxDirectory, limits: { maxReadBytes: number; maxWriteBytes: number; redactor?: BodyRedactor }): ToolDefinition<never>[] {
  const read: ToolDefinition<{ path: string; maxBytes?: number | undefined }> = {
    name: 'fs.read',
    description: 'Read a file inside the allowed paths.',
    args: z.object({ path, maxBytes: z.number().int().positive().optional() }).strict(),
    prepare: canonicalPath(sandboxes, 'read'),
    resource: (a) => a.path,
    async execute(a, ctx) {
      const maxBytes = Math.min(a.maxBytes ?? limits.maxReadBytes, limits.maxReadBytes);
      // Read past maxBytes and redact before cutting (secrets/redact/response.ts): a value crossing the cut is never shown in part.
      const r = await sandboxes.for(ctx.principal).paths.readFile(a.path, { exact: true, maxBytes: maxBytes + readAhead(limits.redactor) });
      const body = await agentBody(r.content, limits.redactor, { maxBytes, truncated: r.truncated, where: 'fs.read' });
      return { path: r.path, size: r.size, truncated: body.truncated, content: body.body, encoding: body.bodyEncoding };
    },
  };
  const write: ToolDefinition<{ path: string; content: string; encoding?: 'utf8' | 'base64' | undefined; createDirs?: boolean | undefined }> = {
    name: 'fs.write',
    description: 'Write a file inside the allowed paths (never through a symlink).',
    args: z.object({ path, content: z.string(), encoding: z.enum(['utf8', 'base64']).optional(), createDirs: z.boolean().optional() }).strict(),
    prepare: canonicalPath(sandboxes, 'write'),
    resource: (a) => a.path,
    audit: ({ content, ...rest }) => ({ ...rest, content: digestOf(rest.encoding === 'base64' ? Buffer.from(content, 'base64') : content) }),
    async execute(a, ctx) {
      const data = a.encoding === 'base64' ? Buffer.from(a.content, 'base64') : a.content;
      return sandboxes.for(ctx.principal).paths.writeFile(a.path, data, { exact: true, maxBytes: limits.maxWriteBytes, ...(a.createDirs ? { createDirs: true } : {}) });
    },
  };
  const list: ToolDefinition<{ path: string }> = {
    name: 'fs.list',
    description: 'List a directory inside the allowed paths.',
    args: z.object({ path }).strict(),
    prepare: canonicalPath(sandboxes, 'read'),
    resource: (a) => a.path,
    async execute(a, ctx) {
      return sandboxes.for(ctx.principal).paths.list(a.path, { exact: true, maxEntries: 10_000 });
    },
  };
  const stat: ToolDefinition<{ path: string }> = {
    name: 'fs.stat',
    description: 'Stat a path inside the allowed paths.',
    args: z.object({ path }).strict(),
    prepare: canonicalPath(sandboxes, 'read'),
    resource: (a) => a.path,
    async execute(a, ctx) {
      return sandboxes.for(ctx.principal).paths.stat(a.path, { exact: true });
    },
  };
  return [read, write, list, stat] as unknown as ToolDefinition<never>[];
}
