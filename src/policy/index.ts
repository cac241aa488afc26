/**
 * The policy decision point (Cedar, tiers local > config > default, default deny) and the tools
 * around it: explain, policy tests, the shipped schema.
 */
export { CedarDecisionPoint, DEFAULT_TIER_POLICIES, type CedarPdpOptions, type Explanation, type ReloadResult, type PdpLogger } from './pdp.js';
export { watchPolicyDir } from './watch.js';
export { buildSchema, CEDAR_SCHEMA_BASE, CONTEXT_ATTRIBUTES } from './schema.js';
export { ACTION_CATALOG, actionGroups } from './actions.js';
export { compileConfig, type PolicySource } from './compile-config.js';
export { matchGlob } from './globs.js';
export { buildExplainRequest, explainInput, parsePolicyCases, runPolicyCases, type ExplainInput, type PolicyCase, type PolicyCaseResult } from './explain.js';
