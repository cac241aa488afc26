/**
 * The Cedar schema that ships with clawguard (JSON schema format, embedded as a constant so it
 * travels inside dist/). Entity types, the context every decision carries, and the action
 * catalogue; tools registered at run time are added to the action list when policies load.
 * `clawguard policy schema` prints the effective schema.
 */
import type { SchemaJson } from '@cedar-policy/cedar-wasm/nodejs';
import { actionAncestors, actionGroups, GROUP_ALL, ungroupedActions } from './actions.js';

type Attr = Record<string, unknown>;
const str = (required = true): Attr => ({ type: 'String', ...(required ? {} : { required: false }) });
const long = (required = true): Attr => ({ type: 'Long', ...(required ? {} : { required: false }) });
const strSet = (required = true): Attr => ({ type: 'Set', element: { type: 'String' }, ...(required ? {} : { required: false }) });
const ext = (name: string): Attr => ({ type: 'Extension', name });

export const PRINCIPAL_TYPES = ['Agent', 'Run'] as const;
export const RESOURCE_TYPES = ['File', 'Host', 'Command', 'Secret', 'Model', 'Tool'] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** Attributes a policy may read from `context`. Optional ones need `context has x` first. */
export const CONTEXT_ATTRIBUTES: Record<string, Attr> = {
  /** Decision time (UTC) as a Cedar datetime, plus its hour (0-23) and weekday (0 = Sunday). */
  time: ext('datetime'),
  hour: long(),
  weekday: long(),
  /** The acting agent's current anomaly score (0 until behaviour baselines exist), as a decimal. */
  anomalyScore: ext('decimal'),
  /** Isolation of the acting run: "thread", "process" or "none" (outside agents). */
  isolation: str(),
  /** How the request came in: one of DOORS (src/pipeline/types.ts), e.g. "run" or "http". */
  door: str(),
  /** The tool's arguments (well-known ones, typed), and all of them as canonical JSON for `like`. */
  args: {
    type: 'Record',
    attributes: {
      path: str(false),
      url: str(false),
      host: str(false),
      method: str(false),
      command: str(false),
      argv: strSet(false),
      secret: str(false),
      model: str(false),
      to: str(false),
      key: str(false),
      name: str(false),
    },
  },
  argsJson: str(),
  /** Derived from the arguments: the normalized path, the host (of args.url or args.host), argv[0], the secret name. */
  path: str(false),
  host: str(false),
  /** The http(s) origin of args.url, canonical and always with its port: `https://api.example.com:443`. */
  origin: str(false),
  command: str(false),
  secret: str(false),
  /** Config path globs (from tools.allow/deny `paths`) that the path matches. */
  matchedGlobs: strSet(),
  /** Config argument patterns (from tools.allow/deny `argv`, by their JSON text) that argv[1..] matches. */
  matchedArgv: strSet(),
};

const principalShape = { type: 'Record', attributes: { trustLevel: str(), capabilities: strSet(), profile: str(false) } };

/** The base schema (the shipped constant). Actions are added by `buildSchema`. */
export const CEDAR_SCHEMA_BASE = {
  '': {
    commonTypes: { Context: { type: 'Record', attributes: CONTEXT_ATTRIBUTES } },
    entityTypes: {
      Profile: {},
      Role: {},
      Agent: { memberOfTypes: ['Profile', 'Role'], shape: principalShape },
      Run: { memberOfTypes: ['Profile', 'Role'], shape: principalShape },
      File: { shape: { type: 'Record', attributes: { path: str() } } },
      Host: { shape: { type: 'Record', attributes: { host: str() } } },
      Command: { shape: { type: 'Record', attributes: { name: str() } } },
      Secret: { shape: { type: 'Record', attributes: { name: str() } } },
      Model: { shape: { type: 'Record', attributes: { name: str() } } },
      Tool: { shape: { type: 'Record', attributes: { name: str() } } },
    },
    actions: {} as Record<string, unknown>,
  },
} as const;

/** The full schema for a set of action (tool) names: each action plus its group actions. */
export function buildSchema(actions: Iterable<string>): SchemaJson<string> {
  const defs: Record<string, unknown> = {};
  const names = new Set(actions);
  const groups = new Set<string>([GROUP_ALL]);
  for (const a of names) if (!ungroupedActions.has(a)) for (const g of actionGroups(a)) groups.add(g);
  for (const g of groups) {
    if (names.has(g)) continue;
    const parents = actionGroups(g);
    defs[g] = parents.length ? { memberOf: parents.map((id) => ({ id })) } : {};
  }
  for (const a of names) {
    const parents = actionAncestors(a);
    defs[a] = {
      ...(parents.length ? { memberOf: parents.map((id) => ({ id })) } : {}),
      appliesTo: { principalTypes: [...PRINCIPAL_TYPES], resourceTypes: [...RESOURCE_TYPES], context: { type: 'Context' } },
    };
  }
  const base = CEDAR_SCHEMA_BASE[''];
  return { '': { commonTypes: base.commonTypes, entityTypes: base.entityTypes, actions: defs } } as unknown as SchemaJson<string>;
}
