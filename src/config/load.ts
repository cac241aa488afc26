/** Reading and validating clawguard.json (JSON or JSON5, with or without the "openclaw" wrapper). */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import JSON5 from 'json5';
import { z } from 'zod';
import { ClawguardError } from '../errors/index.js';
import { normalize, type NormalizeOptions } from './normalize.js';
import { type ConfigProblem, formatPath, problemsFromZod } from './problems.js';
import { rootSchema } from './schema.js';
import type { ClawguardConfig } from './types.js';

export class ConfigError extends ClawguardError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], file?: string) {
    super('config_invalid', `${file ? `${file}: ` : ''}${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Keys the schema knows at a path, for did-you-mean. */
function knownKeysAt(path: (string | number)[]): string[] {
  let s: z.ZodTypeAny = rootSchema;
  const unwrap = (t: z.ZodTypeAny): z.ZodTypeAny => {
    for (;;) {
      if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t.unwrap();
      else if (t instanceof z.ZodDefault) t = t._def.innerType;
      else if (t instanceof z.ZodEffects) t = t.innerType();
      else return t;
    }
  };
  for (const key of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodTypeAny>)[String(key)] ?? z.never();
    else if (s instanceof z.ZodRecord) s = s.valueSchema;
    else if (s instanceof z.ZodArray) s = s.element;
    else if (s instanceof z.ZodUnion) s = (s.options as z.ZodTypeAny[]).find((o) => unwrap(o) instanceof z.ZodObject) ?? z.never();
    else return [];
  }
  s = unwrap(s);
  if (s instanceof z.ZodUnion) s = unwrap((s.options as z.ZodTypeAny[]).find((o) => unwrap(o) instanceof z.ZodObject) ?? z.never());
  return s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
}

/** Accept `{"openclaw": {...}}` alone or beside other top-level keys; a key in both places is a problem. */
function unwrapOpenclaw(input: unknown, problems: ConfigProblem[]): { body: unknown; wrapped: boolean } {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || !('openclaw' in input)) return { body: input, wrapped: false };
  const { openclaw, ...rest } = input as Record<string, unknown>;
  if (openclaw === null || typeof openclaw !== 'object' || Array.isArray(openclaw)) {
    problems.push({ path: 'openclaw', message: `expected an object, got ${Array.isArray(openclaw) ? 'an array' : JSON.stringify(openclaw)}` });
    return { body: rest, wrapped: true };
  }
  for (const k of Object.keys(openclaw)) if (k in rest) problems.push({ path: `openclaw.${k}`, message: `also set at top level as "${k}"; set it in one place` });
  return { body: { ...rest, ...openclaw }, wrapped: true };
}

/** Validate an already-parsed config object. Throws ConfigError listing every problem. */
export function parseConfig(input: unknown, source?: string, opts: NormalizeOptions = {}): ClawguardConfig {
  const problems: ConfigProblem[] = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError([{ path: '(root)', message: `expected an object, got ${Array.isArray(input) ? 'an array' : JSON.stringify(input)}` }], source);
  }
  const { body, wrapped } = unwrapOpenclaw(input, problems);
  const prefix = wrapped && 'openclaw' in (input as object) && Object.keys(input as object).length === 1 ? 'openclaw' : '';
  const parsed = rootSchema.safeParse(body);
  if (!parsed.success) {
    problems.push(...problemsFromZod(parsed.error.issues, body, prefix, knownKeysAt));
    throw new ConfigError(problems, source);
  }
  const config = normalize(parsed.data, source, wrapped, problems, opts);
  if (problems.length > 0) throw new ConfigError(problems, source);
  return config;
}

export function parseConfigText(text: string, source?: string): ClawguardConfig {
  let data: unknown;
  try {
    data = JSON5.parse(text);
  } catch (e) {
    const err = e as Error & { lineNumber?: number; columnNumber?: number };
    const where = err.lineNumber ? `line ${err.lineNumber}, column ${err.columnNumber}` : '(parse)';
    throw new ConfigError([{ path: where, message: `not valid JSON/JSON5: ${err.message.replace(/^JSON5: /, '')}` }], source);
  }
  return parseConfig(data, source);
}

export function loadConfigFile(file: string): ClawguardConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '(file)', message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }], file);
  }
  return parseConfigText(text, file);
}

/**
 * Where the config comes from: --config, then CLAWGUARD_CONFIG, then ./clawguard.json(5), then
 * ~/.clawguard/clawguard.json(5) (beside the default state dir, so a command started from any
 * directory finds the user's config). Returns undefined when none exists (the embedded defaults apply).
 */
export function findConfigFile(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home: string = homedir()): string | undefined {
  if (explicit) return resolve(cwd, explicit);
  if (env.CLAWGUARD_CONFIG) return resolve(cwd, env.CLAWGUARD_CONFIG);
  for (const dir of [cwd, join(home, '.clawguard')]) {
    for (const name of ['clawguard.json', 'clawguard.json5']) {
      const p = resolve(dir, name);
      if (existsSync(p)) return p;
    }
  }
  return undefined;
}

export { formatPath };
