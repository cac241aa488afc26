/**
 * The Cedar engine (@cedar-policy/cedar-wasm, stateful API): parse, validate, preparse policy sets
 * into numbered slots that are reused (the wasm side keeps every preparsed set until overwritten),
 * and authorize against a preparsed set.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { AuthorizationAnswer, Context, DetailedError, Entities, EntityUidJson, PolicyJson, SchemaJson } from '@cedar-policy/cedar-wasm/nodejs';

export type { PolicyJson, SchemaJson, Context, Entities, EntityUidJson, AuthorizationAnswer };
export { cedar };

export function errorText(errors: DetailedError[], source?: string): string[] {
  return errors.map((e) => {
    const loc = e.sourceLocations?.[0];
    const where = loc && source !== undefined ? `line ${lineOf(source, loc.start)}: ` : '';
    return `${where}${e.message}${e.help ? ` (${e.help})` : ''}`;
  });
}

export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Split Cedar source into its policies (source text, JSON, offset); templates are refused. */
export function splitPolicies(text: string): { ok: true; policies: Array<{ text: string; json: PolicyJson; offset: number }> } | { ok: false; errors: string[] } {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') return { ok: false, errors: errorText(parts.errors, text) };
  if (parts.policy_templates.length) return { ok: false, errors: ['policy templates (?principal / ?resource slots) are not supported; write static policies'] };
  const out: Array<{ text: string; json: PolicyJson; offset: number }> = [];
  let cursor = 0;
  const located = parts.policies.map((p) => {
    let at = text.indexOf(p, cursor);
    if (at < 0) at = text.indexOf(p);
    return { p, at };
  });
  for (const { p, at } of located.sort((a, b) => a.at - b.at)) {
    const j = cedar.policyToJson(p);
    if (j.type === 'failure') return { ok: false, errors: errorText(j.errors, p) };
    out.push({ text: p, json: j.json, offset: at < 0 ? 0 : at });
    cursor = at < 0 ? cursor : at + p.length;
  }
  return { ok: true, policies: out };
}

/** Strict validation against the schema; returns problems keyed by policy id. */
export function validateAgainst(schema: SchemaJson<string>, policies: Record<string, PolicyJson>): Array<{ policyId: string; message: string }> {
  const v = cedar.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  if (v.type === 'failure') return errorText(v.errors).map((message) => ({ policyId: '', message }));
  return v.validationErrors.map((e) => ({ policyId: e.policyId, message: `${e.error.message}${e.error.help ? ` (${e.error.help})` : ''}` }));
}

/** Preparsed policy sets in reusable numbered slots. */
export class PreparsedSlots {
  private readonly free: string[] = [];
  private next = 0;
  constructor(private readonly prefix = `clawguard-${process.pid}-${Math.random().toString(36).slice(2, 8)}`) {}

  /** Preparse a set; returns the slot id to authorize against. */
  load(policies: Record<string, PolicyJson>): string {
    const id = this.free.pop() ?? `${this.prefix}-${this.next++}`;
    const r = cedar.preparsePolicySet(id, { staticPolicies: policies });
    if (r.type === 'failure') {
      this.free.push(id);
      throw new Error(`cedar could not load a policy set: ${errorText(r.errors).join('; ')}`);
    }
    return id;
  }

  /** The slot may be reused (its contents are overwritten by the next load). */
  release(id: string): void {
    this.free.push(id);
  }
}

export function authorize(setId: string, principal: EntityUidJson, action: EntityUidJson, resource: EntityUidJson, context: Context, entities: Entities): AuthorizationAnswer {
  return cedar.statefulIsAuthorized({ principal, action, resource, context, entities, preparsedPolicySetId: setId });
}
