/**
 * Static facts about a parsed Cedar policy: what its scope needs (so a request can be matched to
 * the few policies that can apply to it, exactly as Cedar would), and which parts of the request
 * its conditions read (so the engine is handed only those, and the cache keys only on those).
 */
import type { ActionConstraint, Clause, EntityUidJson, PolicyJson, PrincipalConstraint, ResourceConstraint } from '@cedar-policy/cedar-wasm/nodejs';

/** What a policy's conditions read of one entity variable (principal or resource). */
export interface EntityRefs {
  /** Attributes read (`.attr`, `has attr`), or 'all' when the entity is used in a way not analysed. */
  attrs: Set<string> | 'all';
  /** Whether `in` is applied to it (its parents are needed). */
  parents: boolean;
}

export interface Refs {
  principal: EntityRefs;
  resource: EntityRefs;
  action: boolean;
  /** Context attributes read, or 'all' when the context is used as a whole. */
  context: Set<string> | 'all';
  /** Entity types named by literals in the conditions. */
  literalTypes: Set<string>;
}

/** What is known about one side of a request: its uid key, its type, its ancestors' keys. */
export interface EntityFacts {
  type: string;
  key: string;
  ancestors: ReadonlySet<string> | readonly string[];
}

/** A unique string for an entity uid (entity type names never contain NUL, so the first one splits). */
export function uidKey(type: string, id: string): string {
  return `${type}\u0000${id}`;
}

export function jsonUidKey(u: EntityUidJson): string {
  const t = '__entity' in u ? u.__entity : u;
  return uidKey(t.type, t.id);
}

function has(list: ReadonlySet<string> | readonly string[], k: string): boolean {
  return Array.isArray(list) ? list.includes(k) : (list as ReadonlySet<string>).has(k);
}

function inOrEq(op: '==' | 'in', anchor: string, f: EntityFacts): boolean {
  return anchor === f.key || (op === 'in' && has(f.ancestors, anchor));
}

/** Whether a principal or resource scope constraint holds for these facts. Throws on template slots. */
export function scopeMatches(c: PrincipalConstraint | ResourceConstraint, f: EntityFacts): boolean {
  switch (c.op) {
    case 'All':
      return true;
    case '==':
    case 'in':
      if (!('entity' in c)) throw new Error('policy templates (slots) are not supported');
      return inOrEq(c.op, jsonUidKey(c.entity), f);
    case 'is':
      if (c.entity_type !== f.type) return false;
      if (!c.in) return true;
      if (!('entity' in c.in)) throw new Error('policy templates (slots) are not supported');
      return inOrEq('in', jsonUidKey(c.in.entity), f);
  }
}

export function actionMatches(c: ActionConstraint, f: EntityFacts): boolean {
  switch (c.op) {
    case 'All':
      return true;
    case '==':
      if (!('entity' in c)) throw new Error('policy templates (slots) are not supported');
      return jsonUidKey(c.entity) === f.key;
    case 'in':
      if ('entity' in c) return inOrEq('in', jsonUidKey(c.entity), f);
      return c.entities.some((e) => inOrEq('in', jsonUidKey(e), f));
  }
}

/** The entity a scope is anchored on (`==`, `in`, `is … in`), if any. */
export function scopeAnchor(c: PrincipalConstraint | ResourceConstraint): string | undefined {
  if ((c.op === '==' || c.op === 'in') && 'entity' in c) return jsonUidKey(c.entity);
  if (c.op === 'is' && c.in && 'entity' in c.in) return jsonUidKey(c.in.entity);
  return undefined;
}

export function hasSlots(p: PolicyJson): boolean {
  const slot = (c: { op: string } & Record<string, unknown>) => 'slot' in c || (c.op === 'is' && typeof c.in === 'object' && c.in !== null && 'slot' in (c.in as object));
  return slot(p.principal as never) || slot(p.resource as never) || slot(p.action as never);
}

const isVar = (n: unknown, name?: string): n is { Var: string } =>
  !!n && typeof n === 'object' && !Array.isArray(n) && Object.keys(n).length === 1 && typeof (n as { Var?: unknown }).Var === 'string' && (name === undefined || (n as { Var: string }).Var === name);

/** Walk the condition ASTs once and record what they read. */
export function analyzeConditions(conditions: Clause[]): Refs {
  const refs: Refs = { principal: { attrs: new Set(), parents: false }, resource: { attrs: new Set(), parents: false }, action: false, context: new Set(), literalTypes: new Set() };
  const entity = (v: string): EntityRefs | undefined => (v === 'principal' ? refs.principal : v === 'resource' ? refs.resource : undefined);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (isVar(o)) {
      // A use not recognized below: hand over everything about that variable.
      const e = entity(o.Var);
      if (e) {
        e.attrs = 'all';
        e.parents = true;
      } else if (o.Var === 'action') refs.action = true;
      else if (o.Var === 'context') refs.context = 'all';
      return;
    }
    if ('__entity' in o) {
      const e = o.__entity as { type?: unknown };
      if (typeof e?.type === 'string') refs.literalTypes.add(e.type);
      return;
    }
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const op = keys[0]!;
      const inner = o[op] as { left?: unknown; right?: unknown; attr?: unknown } | undefined;
      if (inner && typeof inner === 'object' && isVar(inner.left)) {
        const v = inner.left.Var;
        const attr = Array.isArray(inner.attr) ? inner.attr[0] : inner.attr;
        if ((op === '.' || op === 'has') && typeof attr === 'string') {
          if (v === 'context') {
            if (refs.context !== 'all') refs.context.add(attr);
            return;
          }
          const e = entity(v);
          if (e) {
            if (e.attrs !== 'all') e.attrs.add(attr);
            return;
          }
        }
        const e = entity(v);
        if (e && (op === '==' || op === '!=' || op === 'in' || op === 'is')) {
          // equality and type tests need only the uid; `in` needs the parents
          if (op === 'in') e.parents = true;
          for (const [k, sub] of Object.entries(inner)) if (k !== 'left') visit(sub);
          return;
        }
      }
    }
    for (const v of Object.values(o)) visit(v);
  };
  for (const c of conditions) visit(c.body);
  return refs;
}

/** The policy with its scope opened to `All` and its effect set to permit: how it is handed to the engine once the scope is known to match. */
export function openedPolicy(p: PolicyJson): PolicyJson {
  return { effect: 'permit', principal: { op: 'All' }, action: { op: 'All' }, resource: { op: 'All' }, conditions: p.conditions };
}
