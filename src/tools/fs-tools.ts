/**
 * fs.read, fs.write, fs.list, fs.stat. `prepare` turns the agent's path into the canonical path the
 * tool will open (the path guard's one canonicalisation), so policy, audit and guard all see that
 * path; execute then opens exactly it (`exact`), and a change in between fails the call. fs.read
 * content is text when the bytes are UTF-8, base64 otherwise.
 *
 * A path the guard refuses (outside, blocked, a link leading away, missing below a `..`) is still
 * decided by policy first, on the path as written made absolute: the guard is the second line, and
 * an answer that came from it before the decision would tell an agent that may not touch a path at
 * all whether something exists there. The guard's refusal then comes from execute.
 */
import { z } from 'zod';
import { ClawguardError } from '../errors/index.js';
import { agentBody, readAhead, type BodyRedactor } from '../secrets/redact/response.js';
import { digestOf } from './audit-args.js';
import type { ToolCallContext } from '../pipeline/index.js';
import type { ToolDefinition } from './registry.js';
import type { SandboxDirectory } from './sandboxes.js';

const path = z.string().min(1).max(4096);

type Mode = 'read' | 'write';
/** `requested`: what the agent wrote, kept when the guard refused it (the policy then saw the lexical path). */
type PathArgs = { path: string; requested?: string };

/** The canonical path for this principal's sandbox, in the mode the tool will use it. */
function canonicalPath(sandboxes: SandboxDirectory, mode: Mode) {
  return <A extends PathArgs>(a: A, ctx: ToolCallContext): A => {
    const guard = sandboxes.for(ctx.principal).paths;
    const lexical = guard.lexical(a.path); // input that names no path at all is refused here
    try {
      return { ...a, path: guard.canonical(a.path, mode) };
    } catch (e) {
      if (!(e instanceof ClawguardError)) throw e;
      return { ...a, path: lexical, requested: a.path };
    }
  };
}

/** The path to open: the canonical one, or (for a path the guard refused in prepare) the guard's refusal. */
function opened(sandboxes: SandboxDirectory, mode: Mode, a: PathArgs, ctx: ToolCallContext): string {
  if (a.requested === undefined) return a.path;
  sandboxes.for(ctx.principal).paths.canonical(a.requested, mode);
  // Acceptable now, but the decision was made on the path as written: refuse rather than act on an undecided path.
  throw new ClawguardError('path_blocked', `path ${JSON.stringify(a.requested)} changed while the call was being decided; the call is refused`, { details: { reason: 'race' } });
}

export function fsTools(sandboxes: SandboxDirectory, limits: { maxReadBytes: number; maxWriteBytes: number; redactor?: BodyRedactor }): ToolDefinition<never>[] {
  const read: ToolDefinition<PathArgs & { maxBytes?: number | undefined }> = {
    name: 'fs.read',
    description: 'Read a file inside the allowed paths.',
    args: z.object({ path, maxBytes: z.number().int().positive().optional() }).strict(),
    prepare: canonicalPath(sandboxes, 'read'),
    resource: (a) => a.path,
    async execute(a, ctx) {
      const maxBytes = Math.min(a.maxBytes ?? limits.maxReadBytes, limits.maxReadBytes);
      // Read past maxBytes and redact before cutting (secrets/redact/response.ts): a value crossing the cut is never shown in part.
      const r = await sandboxes.for(ctx.principal).paths.readFile(opened(sandboxes, 'read', a, ctx), { exact: true, maxBytes: maxBytes + readAhead(limits.redactor) });
      const body = await agentBody(r.content, limits.redactor, { maxBytes, truncated: r.truncated, where: 'fs.read' });
      return { path: r.path, size: r.size, truncated: body.truncated, content: body.body, encoding: body.bodyEncoding };
    },
  };
  const write: ToolDefinition<PathArgs & { content: string; encoding?: 'utf8' | 'base64' | undefined; createDirs?: boolean | undefined }> = {
    name: 'fs.write',
    description: 'Write a file inside the allowed paths (never through a symlink).',
    args: z.object({ path, content: z.string(), encoding: z.enum(['utf8', 'base64']).optional(), createDirs: z.boolean().optional() }).strict(),
    prepare: canonicalPath(sandboxes, 'write'),
    resource: (a) => a.path,
    audit: ({ content, ...rest }) => ({ ...rest, content: digestOf(rest.encoding === 'base64' ? Buffer.from(content, 'base64') : content) }),
    async execute(a, ctx) {
      const data = a.encoding === 'base64' ? Buffer.from(a.content, 'base64') : a.content;
      return sandboxes.for(ctx.principal).paths.writeFile(opened(sandboxes, 'write', a, ctx), data, { exact: true, maxBytes: limits.maxWriteBytes, ...(a.createDirs ? { createDirs: true } : {}) });
    },
  };
  const list: ToolDefinition<PathArgs> = {
    name: 'fs.list',
    description: 'List a directory inside the allowed paths.',
    args: z.object({ path }).strict(),
    prepare: canonicalPath(sandboxes, 'read'),
    resource: (a) => a.path,
    async execute(a, ctx) {
      return sandboxes.for(ctx.principal).paths.list(opened(sandboxes, 'read', a, ctx), { exact: true, maxEntries: 10_000 });
    },
  };
  const stat: ToolDefinition<PathArgs> = {
    name: 'fs.stat',
    description: 'Stat a path inside the allowed paths.',
    args: z.object({ path }).strict(),
    prepare: canonicalPath(sandboxes, 'read'),
    resource: (a) => a.path,
    async execute(a, ctx) {
      return sandboxes.for(ctx.principal).paths.stat(opened(sandboxes, 'read', a, ctx), { exact: true });
    },
  };
  return [read, write, list, stat] as unknown as ToolDefinition<never>[];
}
