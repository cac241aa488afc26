/**
 * Decisions outside a live request: `policy explain` (one request, with its reasons) and
 * `policy test` (a table of expected decisions, for policy CI).
 */
import { z } from 'zod';
import type { ProfileConfig, TrustLevel } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import { type ActionRequest, type DecisionContext, DOORS, type Principal } from '../pipeline/index.js';
import type { CedarDecisionPoint, Explanation } from './pdp.js';

const principalShape = z
  .object({
    kind: z.enum(['run', 'agent']).optional(),
    trustLevel: z.enum(['trusted', 'limited', 'restricted']).optional(),
    capabilities: z.array(z.string()).optional(),
    roles: z.array(z.string()).optional(),
    profile: z.string().optional(),
    isolation: z.enum(['thread', 'process']).optional(),
    door: z.enum(DOORS).optional(),
  })
  .strict();

const contextShape = z
  .object({ time: z.string().optional(), anomalyScore: z.number().optional(), isolation: z.string().optional() })
  .catchall(z.unknown());

export const explainInput = z
  .object({
    agent: z.string().min(1),
    action: z.string().min(1),
    resource: z.string().optional(),
    args: z.record(z.unknown()).optional(),
    context: contextShape.optional(),
    principal: principalShape.optional(),
  })
  .strict();

export type ExplainInput = z.infer<typeof explainInput>;

/** Arguments a tool would carry for a resource string. */
function argsFor(action: string, resource: string | undefined): Record<string, unknown> {
  if (resource === undefined) return {};
  if (action.startsWith('fs.')) return { path: resource };
  if (action.startsWith('http.')) return { url: resource.includes('://') ? resource : `https://${resource}/` };
  if (action.startsWith('exec.')) return { argv: [resource] };
  if (action === 'secret.use') return { secret: resource };
  if (action.startsWith('model.')) return { model: resource };
  return { name: resource };
}

/** The request `--agent A --action X --resource R` stands for: A is a profile of the config, or else a registered agent id. */
export function buildExplainRequest(input: ExplainInput, profiles: Record<string, ProfileConfig>, now = new Date()): { req: ActionRequest; ctx: DecisionContext } {
  const profile = profiles[input.agent];
  const o = input.principal ?? {};
  let principal: Principal;
  if (profile && o.kind !== 'agent') {
    principal = {
      kind: 'run',
      agentId: 'run:explain',
      runId: 'explain',
      profile: profile.name,
      trustLevel: (o.trustLevel ?? profile.trustLevel) as TrustLevel,
      capabilities: o.capabilities ?? [...profile.capabilities],
      ...(o.roles ? { roles: o.roles } : {}),
      isolation: o.isolation ?? profile.isolation,
      door: o.door ?? 'run',
    };
  } else {
    principal = {
      kind: 'agent',
      agentId: input.agent,
      trustLevel: o.trustLevel ?? 'limited',
      capabilities: o.capabilities ?? [],
      ...(o.roles ? { roles: o.roles } : {}),
      ...(o.profile ? { profile: o.profile } : {}),
      ...(o.isolation ? { isolation: o.isolation } : {}),
      door: o.door ?? 'http',
    };
  }
  const c = input.context ?? {};
  if (c.time !== undefined && !Number.isFinite(Date.parse(c.time))) throw new ClawguardError('bad_request', `context.time: expected an ISO 8601 time, got ${JSON.stringify(c.time)}`);
  const { isolation: ctxIsolation, ...rest } = c;
  const isolation = principal.isolation ?? (ctxIsolation as DecisionContext['isolation']);
  const ctx: DecisionContext = {
    ...rest,
    time: c.time ? new Date(c.time).toISOString() : now.toISOString(),
    anomalyScore: c.anomalyScore ?? 0,
    ...(isolation ? { isolation } : {}),
  };
  return { req: { principal, tool: input.action, args: { ...argsFor(input.action, input.resource), ...(input.args ?? {}) } }, ctx };
}

export const policyCase = explainInput.extend({
  name: z.string().optional(),
  expect: z.enum(['allow', 'deny']),
  tier: z.enum(['local', 'config', 'default']).optional(),
  policies: z.array(z.string()).optional(),
});
export type PolicyCase = z.infer<typeof policyCase>;

export interface PolicyCaseResult {
  name: string;
  ok: boolean;
  expected: { decision: 'allow' | 'deny'; tier?: string; policies?: string[] };
  actual: { decision: 'allow' | 'deny'; tier: string; policies: string[]; reasons: string[] };
  mismatches: string[];
}

/** Parse a cases file's JSON: an array of cases, or `{ "cases": [...] }`. */
export function parsePolicyCases(json: unknown): PolicyCase[] {
  const list = Array.isArray(json) ? json : json && typeof json === 'object' && Array.isArray((json as { cases?: unknown }).cases) ? (json as { cases: unknown[] }).cases : undefined;
  if (!list) throw new ClawguardError('bad_request', 'policy cases: expected a JSON array of cases, or { "cases": [...] }');
  return list.map((c, i) => {
    const r = policyCase.safeParse(c);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ClawguardError('bad_request', `policy cases[${i}]${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message}`);
    }
    return r.data;
  });
}

export function runPolicyCases(pdp: CedarDecisionPoint, cases: PolicyCase[], profiles: Record<string, ProfileConfig>): PolicyCaseResult[] {
  return cases.map((c, i) => {
    const { req, ctx } = buildExplainRequest(c, profiles);
    const d: Explanation = pdp.explain(req, ctx);
    const mismatches: string[] = [];
    if (d.effect !== c.expect) mismatches.push(`expected ${c.expect}, got ${d.effect}`);
    if (c.tier && d.tier !== c.tier) mismatches.push(`expected tier ${c.tier}, got ${d.tier}`);
    if (c.policies && JSON.stringify([...c.policies].sort()) !== JSON.stringify([...d.policies].sort())) mismatches.push(`expected policies ${JSON.stringify(c.policies)}, got ${JSON.stringify(d.policies)}`);
    return {
      name: c.name ?? `#${i + 1} ${c.agent} ${c.action}${c.resource ? ` ${c.resource}` : ''}`,
      ok: mismatches.length === 0,
      expected: { decision: c.expect, ...(c.tier ? { tier: c.tier } : {}), ...(c.policies ? { policies: c.policies } : {}) },
      actual: { decision: d.effect, tier: d.tier, policies: d.policies, reasons: d.reasons },
      mismatches,
    };
  });
}
