/**
 * One loaded generation of policies across the three tiers: parsed, validated against the schema,
 * analysed, and indexed by what their scopes are anchored on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tier } from '../pipeline/index.js';
import { analyzeConditions, hasSlots, type Refs, scopeAnchor } from './analysis.js';
import type { PolicySource } from './compile-config.js';
import { lineOf, type PolicyJson, type SchemaJson, splitPolicies, validateAgainst } from './engine.js';

export const TIERS: readonly Tier[] = ['local', 'config', 'default'];

export interface LoadedPolicy {
  /** Internal id handed to the engine (unique per generation). */
  key: string;
  /** Display id: the @id annotation, or file:line, or the config path. */
  id: string;
  tier: Tier;
  effect: 'permit' | 'forbid';
  json: PolicyJson;
  text: string;
  reason?: string;
  globs?: string[];
  argv?: string[][];
  origin: string;
  refs: Refs;
}

export class PolicyLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** Parse Cedar source of one tier (a file's text, or generated text). Throws PolicyLoadError. */
export function parseTier(tier: Tier, sources: Array<{ text: string; origin: string; meta?: Map<string, PolicySource> }>, keyPrefix: string): LoadedPolicy[] {
  const out: LoadedPolicy[] = [];
  const problems: string[] = [];
  for (const src of sources) {
    const split = splitPolicies(src.text);
    if (!split.ok) {
      problems.push(...split.errors.map((e) => `${src.origin}: ${e}`));
      continue;
    }
    split.policies.forEach((p) => {
      const line = lineOf(src.text, p.offset);
      const annotated = p.json.annotations?.id;
      const id = annotated ?? `${src.origin}:${line}`;
      const meta = annotated ? src.meta?.get(annotated) : undefined;
      const reason = p.json.annotations?.reason ?? meta?.reason;
      out.push({
        key: `${keyPrefix}${out.length}`,
        id,
        tier,
        effect: p.json.effect,
        json: p.json,
        text: p.text,
        ...(reason ? { reason } : {}),
        ...(meta?.globs ? { globs: meta.globs } : {}),
        ...(meta?.argv ? { argv: meta.argv } : {}),
        origin: meta?.origin ?? `${src.origin}:${line}`,
        refs: analyzeConditions(p.json.conditions),
      });
      if (hasSlots(p.json)) problems.push(`${src.origin}:${line}: policy templates (?principal / ?resource slots) are not supported`);
    });
  }
  if (problems.length) throw new PolicyLoadError(problems);
  return out;
}

/** The `.cedar` files of a directory, sorted by name. */
export function readPolicyDir(dir: string): Array<{ text: string; origin: string }> {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => (d.isFile() || d.isSymbolicLink()) && d.name.endsWith('.cedar') && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
  return names.map((n) => ({ text: readFileSync(join(dir, n), 'utf8'), origin: n }));
}

export interface PolicyGeneration {
  policies: LoadedPolicy[];
  byKey: Map<string, LoadedPolicy>;
  principalAnchors: Set<string>;
  resourceAnchors: Set<string>;
  counts: Record<Tier, number>;
}

/** Check ids are unique and every policy validates against the schema; index the lot. */
export function assemble(all: LoadedPolicy[], schema: SchemaJson<string>): PolicyGeneration {
  const problems: string[] = [];
  const seen = new Map<string, LoadedPolicy>();
  for (const p of all) {
    const prev = seen.get(p.id);
    if (prev) problems.push(`${p.origin}: duplicate policy id ${JSON.stringify(p.id)} (also at ${prev.origin})`);
    else seen.set(p.id, p);
  }
  const byKey = new Map(all.map((p) => [p.key, p]));
  if (all.length) {
    for (const v of validateAgainst(schema, Object.fromEntries(all.map((p) => [p.key, p.json])))) {
      const p = byKey.get(v.policyId);
      problems.push(`${p ? `${p.origin} (${p.id})` : 'schema'}: ${v.message}`);
    }
  }
  if (problems.length) throw new PolicyLoadError(problems);
  const principalAnchors = new Set<string>();
  const resourceAnchors = new Set<string>();
  const counts: Record<Tier, number> = { local: 0, config: 0, default: 0 };
  for (const p of all) {
    const pa = scopeAnchor(p.json.principal);
    if (pa) principalAnchors.add(pa);
    const ra = scopeAnchor(p.json.resource);
    if (ra) resourceAnchors.add(ra);
    counts[p.tier]++;
  }
  return { policies: all, byKey, principalAnchors, resourceAnchors, counts };
}
