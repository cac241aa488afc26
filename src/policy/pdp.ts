/**
 * The policy decision point: Cedar policies in three tiers, local (operator `.cedar` files) >
 * config (compiled from clawguard.json) > default (built in: deny). The first tier in which any
 * policy is satisfied decides, and within it a forbid wins over a permit; if no tier decides, the
 * answer is deny.
 *
 * One engine call per decision: the policies whose scope matches the request (principal, action,
 * resource: evaluated statically, exactly as Cedar would) are preparsed once as a "slice", with
 * every policy turned into a permit under its own id, so the engine reports every satisfied policy
 * and the tier rule is applied here. Decisions are cached on everything the slice's policies read.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { ClawguardConfig } from '../config/index.js';
import type { ActionRequest, Decision, DecisionContext, DecisionPoint, Tier } from '../pipeline/index.js';
import { ACTION_CATALOG } from './actions.js';
import { actionMatches, openedPolicy, scopeMatches } from './analysis.js';
import { compileConfig, configActions, type PolicySource } from './compile-config.js';
import { authorize, type Context, type Entities, type PolicyJson, PreparsedSlots, type SchemaJson } from './engine.js';
import { PolicyMetrics } from './metrics.js';
import { assemble, type LoadedPolicy, type PolicyGeneration, PolicyLoadError, parseTier, readPolicyDir, TIERS } from './policy-set.js';
import { RequestFacts, type RequestEnv } from './request.js';
import { buildSchema, CONTEXT_ATTRIBUTES } from './schema.js';

/** The built-in default tier: no policies, so anything no other tier decides is denied. */
export const DEFAULT_TIER_POLICIES = '';

export interface PdpLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface CedarPdpOptions {
  config: Pick<ClawguardConfig, 'agents' | 'secrets' | 'policy'>;
  /** State dir: local policies default to <stateDir>/policies. */
  stateDir?: string;
  /** Local policy directory (overrides config.policy.dir and the state-dir default). */
  policyDir?: string;
  /** Tool names registered at run time (added to the schema's actions). */
  actions?: () => Iterable<string>;
  /** Cedar source of the default tier (built in: none, i.e. deny). */
  defaultPolicies?: string;
  registry?: Registry;
  /** Decision cache entries (0 disables the cache). Default 10,000. */
  cacheSize?: number;
  log?: PdpLogger;
  /** Told about every reload (the gateway audits it). */
  onReload?: (r: ReloadResult) => void;
}

export interface ReloadResult {
  ok: boolean;
  at: string;
  files: string[];
  counts?: Record<Tier, number>;
  errors: string[];
}

export interface Explanation extends Decision {
  /** Policies whose scope matched and were evaluated. */
  evaluated: string[];
  /** Policies that could not be evaluated (Cedar errors: they count as not satisfied). */
  errors: string[];
}

interface Slice {
  members: LoadedPolicy[];
  setId: string | undefined;
  needPrincipal: boolean;
  /** Principal attributes the slice reads ('all' = every one) and whether it needs its parents. */
  principalAttrs: Set<string> | 'all';
  principalParents: boolean;
  principalIdMatters: boolean;
  /** Whether conditions can tell resources apart by uid (a literal of the resource's type). */
  resourceIdMatters: boolean;
  needResource: boolean;
  resourceAttrs: Set<string> | 'all';
  needAction: boolean;
  context: readonly string[];
  globs: string[];
  argv: string[][];
}

const ALL_CONTEXT = Object.keys(CONTEXT_ATTRIBUTES);
const MAX_SLICES = 1024;

export class CedarDecisionPoint implements DecisionPoint {
  private gen: PolicyGeneration | undefined;
  /** Set when no valid generation has ever loaded: every decision is then a deny. */
  private failure: string | undefined;
  private readonly slices = new Map<string, Slice>();
  private readonly cache = new Map<string, Decision>();
  private readonly slots = new PreparsedSlots();
  private readonly metrics: PolicyMetrics;
  private readonly cacheSize: number;
  private lastReload: ReloadResult | undefined;
  private loadedAt: string | undefined;
  private hits = 0;
  private misses = 0;
  private schemaCache: SchemaJson<string> | undefined;
  private readonly env: RequestEnv = { workspaceOf: (p) => this.opts.config.agents[p]?.workspace, modelOf: (p) => this.opts.config.agents[p]?.model };

  constructor(private readonly opts: CedarPdpOptions) {
    this.metrics = new PolicyMetrics(opts.registry);
    this.cacheSize = opts.cacheSize ?? 10_000;
  }

  /** Where local policies live, and whether the operator named it explicitly. */
  get localDir(): { dir: string | undefined; explicit: boolean } {
    if (this.opts.policyDir) return { dir: this.opts.policyDir, explicit: true };
    if (this.opts.config.policy.dir) return { dir: this.opts.config.policy.dir, explicit: true };
    return { dir: this.opts.stateDir ? join(this.opts.stateDir, 'policies') : undefined, explicit: false };
  }

  /** The schema policies are validated against (the shipped one plus registered tools). */
  schema(): SchemaJson<string> {
    this.schemaCache ??= buildSchema(new Set([...ACTION_CATALOG, ...(this.opts.actions?.() ?? []), ...configActions(this.opts.config)]));
    return this.schemaCache;
  }

  /** First load. Never throws: a broken local policy file leaves the PDP denying everything until fixed. */
  load(): ReloadResult {
    return this.gen ? (this.lastReload as ReloadResult) : this.reload();
  }

  /** Re-read every tier. If anything is invalid, the previous set stays in force. */
  reload(): ReloadResult {
    const at = new Date().toISOString();
    const { dir, explicit } = this.localDir;
    let files: string[] = [];
    let result: ReloadResult;
    try {
      this.schemaCache = undefined;
      const local: Array<{ text: string; origin: string }> = [];
      if (dir) {
        if (!existsSync(dir)) {
          if (explicit) throw new PolicyLoadError([`local policy directory ${dir} (policy.dir) does not exist`]);
          try {
            mkdirSync(dir, { recursive: true, mode: 0o700 });
          } catch {
            /* no local policies then */
          }
        } else local.push(...readPolicyDir(dir));
      }
      files = local.map((l) => l.origin);
      const compiled = compileConfig(this.opts.config);
      const meta = new Map<string, PolicySource>(compiled.map((c) => [c.id, c]));
      const all = [
        ...parseTier('local', local, 'L'),
        ...parseTier('config', [{ text: compiled.map((c) => c.text).join('\n\n'), origin: 'clawguard.json', meta }], 'C'),
        ...parseTier('default', [{ text: this.opts.defaultPolicies ?? DEFAULT_TIER_POLICIES, origin: 'default' }], 'D'),
      ];
      const gen = assemble(all, this.schema());
      this.swap(gen);
      this.failure = undefined;
      this.loadedAt = at;
      result = { ok: true, at, files, counts: gen.counts, errors: [] };
      this.metrics.reloads.inc({ result: 'ok' });
      for (const t of TIERS) this.metrics.loaded.set({ tier: t }, gen.counts[t]);
      this.opts.log?.info({ files, counts: gen.counts }, 'policies loaded');
    } catch (e) {
      const errors = e instanceof PolicyLoadError ? e.problems : [(e as Error).message];
      result = { ok: false, at, files, errors };
      this.metrics.reloads.inc({ result: 'failed' });
      if (!this.gen) this.failure = `local policies are invalid and no previous set is in force: ${errors.join('; ')}`;
      this.opts.log?.error({ errors, keeping: this.gen ? 'previous policy set' : 'nothing (every action is denied)' }, 'policy load failed');
    }
    this.lastReload = result;
    this.opts.onReload?.(result);
    return result;
  }

  private swap(gen: PolicyGeneration): void {
    for (const s of this.slices.values()) if (s.setId) this.slots.release(s.setId);
    this.slices.clear();
    this.cache.clear();
    this.gen = gen;
  }

  /** Forget cached decisions (call when something outside the request changes a decision). */
  invalidate(): void {
    this.cache.clear();
  }

  decide(req: ActionRequest, ctx: DecisionContext): Decision {
    return this.evaluate(req, ctx, true, false) as Decision;
  }

  /** The decision with what was evaluated; never cached. */
  explain(req: ActionRequest, ctx: DecisionContext): Explanation {
    return this.evaluate(req, ctx, false, true) as Explanation;
  }

  private evaluate(req: ActionRequest, ctx: DecisionContext, useCache: boolean, explain: boolean): Decision | Explanation {
    const t0 = performance.now();
    if (!this.gen && !this.failure) this.load();
    const gen = this.gen;
    if (this.failure || !gen) return this.finish(deny('default', ['policy-unavailable'], [this.failure ?? 'no policies loaded']), t0, 'none', explain ? { evaluated: [], errors: [] } : undefined);
    const f = new RequestFacts(req, ctx, this.env);
    const sliceKey = this.sliceKey(f, gen);
    let slice = this.slices.get(sliceKey);
    if (!slice) slice = this.buildSlice(sliceKey, f, gen);
    if (!slice.setId) return this.finish(this.defaultDeny(req), t0, 'none', explain ? { evaluated: [], errors: [] } : undefined);

    const p = f.principal;
    const pAttrs = slice.needPrincipal ? pick(f.principalAttrs(), slice.principalAttrs) : undefined;
    const pParents = slice.principalParents ? f.principalParents() : [];
    const r = f.resource;
    const rAttrs = slice.needResource ? pick(r.attrs, slice.resourceAttrs) : undefined;
    const context: Context = {};
    for (const a of slice.context) {
      const v = f.contextValue(a, slice.globs, slice.argv);
      if (v !== undefined) context[a] = v;
    }

    let cacheKey: string | undefined;
    if (useCache && this.cacheSize > 0) {
      // Injective: strings are length-prefixed, everything else is JSON.
      cacheKey = sliceKey;
      if (slice.principalIdMatters) cacheKey += `\u0003${keyPart(p.key)}`;
      if (slice.needPrincipal) cacheKey += `\u0003${JSON.stringify(pAttrs)}${JSON.stringify(pParents)}`;
      if (slice.resourceIdMatters || slice.needResource) cacheKey += `\u0003${keyPart(r.key)}`;
      if (slice.needResource) cacheKey += `\u0003${JSON.stringify(rAttrs)}`;
      for (const a of slice.context) cacheKey += `\u0003${keyPart(context[a])}`;
      const hit = this.cache.get(cacheKey);
      if (hit) {
        this.hits++;
        return this.finish(hit, t0, 'hit');
      }
      this.misses++;
    }

    // Entities are built only for the engine: a cache hit never needs them.
    const entities: Entities = [];
    if (pAttrs) entities.push({ uid: p.uid, attrs: pAttrs as never, parents: pParents });
    if (rAttrs) entities.push({ uid: r.uid, attrs: rAttrs as never, parents: [] });
    if (slice.needAction) entities.push({ uid: f.action.uid, attrs: {}, parents: f.actionGroups.map((id) => ({ type: 'Action', id })) });

    const answer = authorize(slice.setId, p.uid, f.action.uid, r.uid, context, entities);
    if (answer.type === 'failure') {
      const msg = answer.errors.map((e) => e.message).join('; ');
      return this.finish(deny('default', ['policy-error'], [`the policy engine could not evaluate this request: ${msg}`]), t0, 'none', explain ? { evaluated: slice.members.map((m) => m.id), errors: [msg] } : undefined);
    }
    const satisfied = new Set(answer.response.diagnostics.reason);
    const errored = answer.response.diagnostics.errors.map((e) => {
      const pol = gen.byKey.get(e.policyId);
      return `${pol?.id ?? e.policyId}: ${e.error.message}`;
    });
    let decision: Decision | undefined;
    for (const tier of TIERS) {
      const hits = slice.members.filter((m) => m.tier === tier && satisfied.has(m.key));
      if (!hits.length) continue;
      const forbids = hits.filter((m) => m.effect === 'forbid');
      const decisive = forbids.length ? forbids : hits;
      decision = {
        effect: forbids.length ? 'deny' : 'allow',
        tier,
        policies: decisive.map((m) => m.id),
        reasons: decisive.map((m) => reasonOf(m, req.tool)),
      };
      break;
    }
    decision ??= this.defaultDeny(req);
    if (errored.length) decision = { ...decision, reasons: [...decision.reasons, ...errored.map((e) => `policy could not be evaluated (not satisfied): ${e}`)] };
    Object.freeze(decision.policies);
    Object.freeze(decision.reasons);
    Object.freeze(decision);
    if (cacheKey !== undefined) {
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, decision);
    }
    return this.finish(decision, t0, cacheKey !== undefined ? 'miss' : 'none', explain ? { evaluated: slice.members.map((m) => m.id), errors: errored } : undefined);
  }

  private finish(d: Decision, t0: number, cache: 'hit' | 'miss' | 'none', extra?: { evaluated: string[]; errors: string[] }): Decision | Explanation {
    this.metrics.decided(d.effect, d.tier, (performance.now() - t0) / 1000, cache);
    return extra ? { effect: d.effect, tier: d.tier, policies: [...d.policies], reasons: [...d.reasons], ...extra } : d;
  }

  private defaultDeny(req: ActionRequest): Decision {
    const p = req.principal;
    const who = p.profile ? `profile ${JSON.stringify(p.profile)}` : `agent ${JSON.stringify(p.agentId)}`;
    const hint = p.profile && this.opts.config.agents[p.profile] ? ` (${req.tool} is not in agents.${p.profile}.tools.allow)` : '';
    return deny('default', ['default-deny'], [`no local or config policy permits ${req.tool} for ${who}${hint}; denied by default`]);
  }

  private sliceKey(f: RequestFacts, gen: PolicyGeneration): string {
    // Injective (every variable part is length-prefixed): a collision would apply the wrong policies.
    let k = `${keyPart(f.req.tool)}${f.principal.type}`;
    if (gen.principalAnchors.has(f.principal.key)) k += `=${keyPart(f.principal.key)}`;
    for (const a of f.principal.ancestors) if (gen.principalAnchors.has(a)) k += `<${keyPart(a)}`;
    const r = f.resource;
    k += `|${r.type}`;
    if (gen.resourceAnchors.has(r.key)) k += `=${keyPart(r.key)}`;
    return k;
  }

  private buildSlice(key: string, f: RequestFacts, gen: PolicyGeneration): Slice {
    const members = gen.policies.filter((p) => actionMatches(p.json.action, f.action) && scopeMatches(p.json.principal, f.principal) && scopeMatches(p.json.resource, f.resource));
    const ctx = new Set<string>();
    let allContext = false;
    const globs = new Set<string>();
    const argv = new Map<string, string[]>();
    const slice: Slice = { members, setId: undefined, needPrincipal: false, principalAttrs: new Set(), principalParents: false, principalIdMatters: false, resourceIdMatters: false, needResource: false, resourceAttrs: new Set(), needAction: false, context: [], globs: [], argv: [] };
    const union = (into: Set<string> | 'all', from: Set<string> | 'all'): Set<string> | 'all' => (into === 'all' || from === 'all' ? 'all' : new Set([...into, ...from]));
    for (const m of members) {
      slice.principalAttrs = union(slice.principalAttrs, m.refs.principal.attrs);
      slice.resourceAttrs = union(slice.resourceAttrs, m.refs.resource.attrs);
      if (m.refs.principal.parents) slice.principalParents = true;
      if (m.refs.action) slice.needAction = true;
      if (m.refs.principal.parents || m.refs.principal.attrs === 'all' || m.refs.principal.attrs.size) slice.needPrincipal = true;
      if (m.refs.resource.parents || m.refs.resource.attrs === 'all' || m.refs.resource.attrs.size) slice.needResource = true;
      if (m.refs.literalTypes.has(f.principal.type)) slice.principalIdMatters = true;
      if (m.refs.literalTypes.has(f.resource.type)) slice.resourceIdMatters = true;
      if (m.refs.context === 'all') allContext = true;
      else for (const a of m.refs.context) ctx.add(a);
      for (const g of m.globs ?? []) globs.add(g);
      for (const a of m.argv ?? []) argv.set(JSON.stringify(a), a);
    }
    slice.context = allContext ? ALL_CONTEXT : ALL_CONTEXT.filter((a) => ctx.has(a));
    slice.globs = [...globs];
    slice.argv = [...argv.values()];
    if (members.length) {
      const set: Record<string, PolicyJson> = {};
      for (const m of members) set[m.key] = openedPolicy(m.json);
      slice.setId = this.slots.load(set);
    }
    if (this.slices.size >= MAX_SLICES) {
      const [oldKey, old] = this.slices.entries().next().value as [string, Slice];
      this.slices.delete(oldKey);
      if (old.setId) this.slots.release(old.setId);
    }
    this.slices.set(key, slice);
    return slice;
  }

  /** The policies in force, for `policy list`. */
  policies(): Array<{ id: string; tier: Tier; effect: 'permit' | 'forbid'; origin: string; text: string }> {
    if (!this.gen && !this.failure) this.load();
    return (this.gen?.policies ?? []).map((p) => ({ id: p.id, tier: p.tier, effect: p.effect, origin: p.origin, text: p.text }));
  }

  status(): Record<string, unknown> {
    const { dir, explicit } = this.localDir;
    return {
      ok: !this.failure && !!this.gen,
      ...(this.failure ? { reason: this.failure } : {}),
      engine: 'cedar',
      localDir: dir ?? null,
      localDirExplicit: explicit,
      loadedAt: this.loadedAt ?? null,
      policies: this.gen?.counts ?? { local: 0, config: 0, default: 0 },
      lastReload: this.lastReload ?? null,
      cache: { entries: this.cache.size, hits: this.hits, misses: this.misses },
      slices: this.slices.size,
    };
  }
}

/** The attributes a slice reads, in a stable order. */
function pick(attrs: Record<string, unknown>, which: Set<string> | 'all'): Record<string, unknown> {
  if (which === 'all') return attrs;
  const out: Record<string, unknown> = {};
  for (const k of which) if (k in attrs) out[k] = attrs[k];
  return out;
}

function keyPart(v: unknown): string {
  if (typeof v === 'string') return `${v.length}:${v}`;
  if (typeof v === 'number') return `n${v}`;
  // Extension values ({__extn: {fn, arg}}) are keyed on their text, without JSON.
  const ext = (v as { __extn?: { fn?: unknown; arg?: unknown } } | undefined)?.__extn;
  if (ext && typeof ext.fn === 'string' && typeof ext.arg === 'string') return `x${ext.fn.length}:${ext.fn}${ext.arg.length}:${ext.arg}`;
  return v === undefined ? 'u' : `j${JSON.stringify(v)}`;
}

function deny(tier: Tier, policies: string[], reasons: string[]): Decision {
  return Object.freeze({ effect: 'deny' as const, tier, policies: Object.freeze(policies) as string[], reasons: Object.freeze(reasons) as string[] });
}

function reasonOf(p: LoadedPolicy, tool: string): string {
  if (p.reason) return p.reason.replaceAll('{action}', tool);
  return `${p.effect === 'forbid' ? 'forbidden' : 'permitted'} by ${p.tier} policy ${p.id} (${p.origin})`;
}
