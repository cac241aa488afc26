/**
 * The policy information the engine sees for one request: principal, action and resource
 * entities, and the context (arguments, time, isolation, anomaly score), each computed only
 * when a policy that can apply reads it.
 */
import { canonicalHost, targetOf } from '../sandbox/index.js';
import canonicalize from 'canonicalize';
import type { ActionRequest, DecisionContext } from '../pipeline/index.js';
import { actionAncestors } from './actions.js';
import { type EntityFacts, uidKey } from './analysis.js';
import type { Context, EntityUidJson } from './engine.js';
import { lexicalCanonical } from '../sandbox/path-canonical.js';
import { decidedCommand } from '../sandbox/exec-command.js';
import { argvPatternKey, matchArgv, matchGlob } from './globs.js';

type Args = Record<string, unknown>;

function asArgs(a: unknown): Args {
  return a && typeof a === 'object' && !Array.isArray(a) ? (a as Args) : {};
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Parsing a URL costs more than a cached decision; agents fetch the same URLs over and over. */
const hostsOfUrls = new Map<string, string | undefined>();

function hostOfUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  if (hostsOfUrls.has(url)) return hostsOfUrls.get(url);
  let host: string | undefined;
  try {
    // One trailing dot names the same host: `evil.com.` must meet the rules written for `evil.com`.
    host = canonicalHost(new URL(url).hostname) || undefined;
  } catch {
    host = undefined;
  }
  if (hostsOfUrls.size >= 4096) hostsOfUrls.clear();
  if (url.length <= 2048) hostsOfUrls.set(url, host);
  return host;
}

/** Cedar Long range; anything else is left out of the typed view of the arguments. */
const STRING_ARGS = ['path', 'url', 'host', 'method', 'command', 'secret', 'model', 'to', 'key', 'name'] as const;

export interface RequestEnv {
  /** Working directory of a profile, to resolve relative paths. */
  workspaceOf?: (profile: string) => string | undefined;
  /** The model a profile uses (resource of model.chat). */
  modelOf?: (profile: string) => string | undefined;
}

interface ActionFacts extends EntityFacts {
  uid: EntityUidJson;
  groups: readonly string[];
}

const actionFacts = new Map<string, ActionFacts>();

function factsOfAction(tool: string): ActionFacts {
  let f = actionFacts.get(tool);
  if (!f) {
    const groups = actionAncestors(tool);
    f = { type: 'Action', key: uidKey('Action', tool), ancestors: groups.map((g) => uidKey('Action', g)), uid: { type: 'Action', id: tool }, groups };
    if (actionFacts.size < 10_000) actionFacts.set(tool, f);
  }
  return f;
}

export interface PrincipalFacts extends EntityFacts {
  uid: EntityUidJson;
}

export class RequestFacts {
  readonly args: Args;
  readonly principal: PrincipalFacts;
  readonly action: ActionFacts;
  private _path: string | null | undefined;
  private _resource: (EntityFacts & { uid: EntityUidJson; attrs: Record<string, unknown> }) | undefined;
  private _attrs: Record<string, unknown> | undefined;
  private _parents: EntityUidJson[] | undefined;

  constructor(readonly req: ActionRequest, readonly ctx: DecisionContext, private readonly env: RequestEnv = {}) {
    this.args = asArgs(req.args);
    const p = req.principal;
    const type = p.kind === 'run' ? 'Run' : 'Agent';
    const id = p.kind === 'run' ? (p.runId ?? p.agentId) : p.agentId;
    const ancestors: string[] = [];
    if (p.profile) ancestors.push(uidKey('Profile', p.profile));
    if (p.roles) for (const r of p.roles) ancestors.push(uidKey('Role', r));
    this.principal = { type, key: uidKey(type, id), ancestors, uid: { type, id } };
    this.action = factsOfAction(req.tool);
  }

  /** The group actions the requested action belongs to (`fs.*`, `*`). */
  get actionGroups(): readonly string[] {
    return this.action.groups;
  }

  /** The principal entity's attributes (built only when a policy reads the principal). */
  principalAttrs(): Record<string, unknown> {
    const p = this.req.principal;
    return (this._attrs ??= { trustLevel: p.trustLevel, capabilities: [...p.capabilities].sort(), ...(p.profile ? { profile: p.profile } : {}) });
  }

  principalParents(): EntityUidJson[] {
    const p = this.req.principal;
    return (this._parents ??= [...(p.profile ? [{ type: 'Profile', id: p.profile }] : []), ...(p.roles ?? []).map((r) => ({ type: 'Role', id: r }))]);
  }

  /**
   * The path argument in the path guard's canonical form. A call that came through a tool's prepare
   * step already carries it (and this is a no-op on it); a request that did not (`policy explain`)
   * gets the same lexical canonicalisation: `file://` decoded once, `~`, the workspace, `..`.
   * Symlinks are resolved only by prepare: the decision itself never touches the disk.
   */
  get path(): string | undefined {
    if (this._path === undefined) {
      const raw = str(this.args.path);
      if (raw === undefined || raw === '') this._path = null;
      else if (raw.charCodeAt(0) === 47 && !raw.includes('\0') && !raw.includes('/.') && !raw.includes('//') && !raw.endsWith('/')) this._path = raw;
      else {
        const ws = this.req.principal.profile ? this.env.workspaceOf?.(this.req.principal.profile) : undefined;
        try {
          this._path = lexicalCanonical(raw, ws ? { workspace: ws } : {});
        } catch {
          this._path = null; // not a path the tool would ever open (it refuses it in prepare)
        }
      }
    }
    return this._path ?? undefined;
  }

  get host(): string | undefined {
    const h = str(this.args.host);
    return hostOfUrl(str(this.args.url)) ?? (h !== undefined ? canonicalHost(h) : undefined);
  }

  /**
   * `scheme://host:port` of args.url, built from the URL parser's view (targetOf), so a host pattern
   * with a scheme or port compiles to a string test that means what host-pattern.ts means.
   */
  get origin(): string | undefined {
    const u = str(this.args.url);
    if (!u) return undefined;
    let t;
    try {
      t = targetOf(new URL(u));
    } catch {
      return undefined;
    }
    return t && t.host ? `${t.scheme}://${t.host}:${t.port}` : undefined;
  }

  /** argv[0], resolved as exec.run's prepare resolves it (a bare name on the fixed sandbox PATH). */
  get command(): string | undefined {
    const argv = this.args.argv;
    if (!Array.isArray(argv) || typeof argv[0] !== 'string') return undefined;
    return decidedCommand(argv[0]);
  }

  /** The arguments after argv[0], when every one is a string. */
  get commandArgs(): string[] | undefined {
    const argv = this.args.argv;
    return Array.isArray(argv) && argv.every((x) => typeof x === 'string') ? (argv.slice(1) as string[]) : undefined;
  }

  get secret(): string | undefined {
    return str(this.args.secret);
  }

  /** What the tool acts on, as an entity. */
  get resource(): EntityFacts & { uid: EntityUidJson; attrs: Record<string, unknown> } {
    if (!this._resource) {
      const tool = this.req.tool;
      const mk = (type: string, id: string, attrs: Record<string, unknown>) => ({ type, key: uidKey(type, id), ancestors: [] as string[], uid: { type, id }, attrs });
      const path = this.path;
      const host = this.host;
      const cmd = this.command;
      if (tool === 'secret.use' && this.secret) this._resource = mk('Secret', this.secret, { name: this.secret });
      else if (path !== undefined && tool.startsWith('fs.')) this._resource = mk('File', path, { path });
      else if (host !== undefined && (tool.startsWith('http.') || str(this.args.url))) this._resource = mk('Host', host, { host });
      else if (cmd !== undefined && tool.startsWith('exec.')) this._resource = mk('Command', cmd, { name: cmd });
      else if (tool.startsWith('model.')) {
        const m = str(this.args.model) ?? (this.req.principal.profile ? this.env.modelOf?.(this.req.principal.profile) : undefined) ?? 'default';
        this._resource = mk('Model', m, { name: m });
      } else this._resource = mk('Tool', tool, { name: tool });
    }
    return this._resource;
  }

  /** A context attribute's Cedar value (undefined = absent). */
  contextValue(attr: string, globs: readonly string[], argvPatterns: readonly (readonly string[])[] = []): Context[string] | undefined {
    switch (attr) {
      case 'time':
        return { __extn: { fn: 'datetime', arg: this.isoTime() } };
      case 'hour':
        return new Date(this.isoTime()).getUTCHours();
      case 'weekday':
        return new Date(this.isoTime()).getUTCDay();
      case 'anomalyScore':
        return { __extn: { fn: 'decimal', arg: decimalText(this.ctx.anomalyScore) } };
      case 'isolation':
        return this.req.principal.isolation ?? (typeof this.ctx.isolation === 'string' ? this.ctx.isolation : 'none');
      case 'door':
        return this.req.principal.door;
      case 'args':
        return this.typedArgs();
      case 'argsJson':
        return argsJson(this.req.args);
      case 'path':
        return this.path;
      case 'host':
        return this.host;
      case 'origin':
        return this.origin;
      case 'command':
        return this.command;
      case 'secret':
        return this.secret;
      case 'matchedGlobs': {
        const p = this.path;
        return p === undefined ? [] : globs.filter((g) => matchGlob(p, g));
      }
      case 'matchedArgv': {
        const a = this.commandArgs;
        return a === undefined ? [] : argvPatterns.filter((pat) => matchArgv(a, pat)).map(argvPatternKey);
      }
      default:
        return undefined;
    }
  }

  private isoTime(): string {
    const t = typeof this.ctx.time === 'string' ? Date.parse(this.ctx.time) : NaN;
    return new Date(Number.isFinite(t) ? t : Date.now()).toISOString();
  }

  private typedArgs(): Record<string, Context[string]> {
    const out: Record<string, Context[string]> = {};
    for (const k of STRING_ARGS) {
      const v = this.args[k];
      if (typeof v === 'string') out[k] = v;
    }
    const argv = this.args.argv;
    if (Array.isArray(argv) && argv.every((x) => typeof x === 'string')) out.argv = argv as string[];
    return out;
  }
}

/** Cedar decimals have four fractional digits; a score that is not a number counts as the worst (1). */
export function decimalText(score: unknown): string {
  if (score === lastScore) return lastText;
  const n = typeof score === 'number' && Number.isFinite(score) ? Math.min(Math.max(score, -1e9), 1e9) : 1;
  lastScore = score;
  lastText = n.toFixed(4);
  return lastText;
}
/** Scores repeat (0 until baselines move them): the last conversion is reused. */
let lastScore: unknown = Symbol('none');
let lastText = '';

function argsJson(args: unknown): string {
  try {
    return canonicalize(args ?? {}) ?? '{}';
  } catch {
    return '{}';
  }
}
