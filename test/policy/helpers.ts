/** Helpers for the policy tests: a PDP over a temp state dir, principals, requests. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import type { ActionRequest, DecisionContext, Principal } from '../../src/pipeline/index.js';
import { CedarDecisionPoint, type CedarPdpOptions } from '../../src/policy/index.js';

export function stateDir(policies: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-policy-'));
  mkdirSync(join(dir, 'policies'));
  for (const [name, text] of Object.entries(policies)) writeFileSync(join(dir, 'policies', name), text);
  return dir;
}

export function pdpFor(rawConfig: unknown, policies: Record<string, string> = {}, extra: Partial<CedarPdpOptions> = {}): { pdp: CedarDecisionPoint; dir: string } {
  const dir = stateDir(policies);
  const config = parseConfig(rawConfig, join(dir, 'clawguard.json'));
  const pdp = new CedarDecisionPoint({ config, stateDir: dir, ...extra });
  const r = pdp.load();
  if (!r.ok && !extra.defaultPolicies) throw new Error(`policies did not load: ${r.errors.join('; ')}`);
  return { pdp, dir };
}

export function run(profile: string, extra: Partial<Principal> = {}): Principal {
  return { kind: 'run', agentId: 'run:r1', runId: 'r1', profile, trustLevel: 'limited', capabilities: [], isolation: 'thread', door: 'run', ...extra };
}

export function agent(agentId: string, extra: Partial<Principal> = {}): Principal {
  return { kind: 'agent', agentId, trustLevel: 'limited', capabilities: [], door: 'http', ...extra };
}

export function ctx(extra: Partial<DecisionContext> = {}): DecisionContext {
  return { time: '2026-03-04T10:00:00.000Z', anomalyScore: 0, ...extra };
}

export function req(principal: Principal, tool: string, args: unknown = {}): ActionRequest {
  return { principal, tool, args };
}
