/**
 * Canonical form of a path: the one the policy decides on, the audit records and the tool opens.
 * Symlinks are resolved here, one component at a time, never by realpath(): resolution looks only at
 * paths inside an allowed root (or at the ancestors of one) and stops, with a verdict, the moment a
 * component lands outside them or in a blocked or hidden path. So a link's target is decided like any
 * other path, whether it exists or not, and nothing about the rest of the host can be learnt from
 * the answer. Every object met is checked against the protected identities (see path-identity.ts).
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { isWithin } from './path-canonical.js';
import type { ProtectedIdentities } from './path-identity.js';
import type { PathDenial, PathPolicy } from './path-policy.js';

/** Linux's own limit on symlinks followed in one resolution. */
const MAX_LINKS = 40;

export type WalkProblem = 'loop' | 'not-directory' | 'symlink-write' | 'root-write' | 'not-found' | 'inaccessible';

export type WalkOutcome =
  | { ok: true; path: string; exists: boolean; root: string; followed: boolean }
  | { ok: false; denial: PathDenial; moved: boolean; followed: boolean }
  | { ok: false; problem: WalkProblem; followed: boolean };

/**
 * Resolve a lexically canonical absolute path (see lexicalCanonical). For writes, no symlink below the
 * allowed root is followed at all (the answer is `symlink-write`).
 */
export function walkCanonical(lexical: string, policy: PathPolicy, ids: ProtectedIdentities, mode: 'read' | 'write'): WalkOutcome {
  const lv = policy.decide(lexical);
  if (!lv.ok) return { ok: false, denial: lv, moved: false, followed: false };
  ids.refresh();
  const rootReal = policy.realForm(lv.root);
  const rest = lexical === lv.root ? '' : lexical.slice(lv.root === '/' ? 1 : lv.root.length + 1);
  // Components still to resolve, last one first (symlink targets are pushed on top).
  const todo = rest ? rest.split('/').reverse() : [];
  let cur = rootReal;
  let links = 0;
  let missing = false;
  let followed = false;
  const moved: Array<{ at: string; was: string }> = [];
  while (todo.length) {
    const name = todo.pop()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      // Below a missing component the kernel would stop with ENOENT; so do we.
      if (missing) return { ok: false, problem: 'not-found', followed };
      cur = path.dirname(cur);
      continue;
    }
    const next = cur === '/' ? `/${name}` : `${cur}/${name}`;
    if (missing) {
      cur = next;
      continue;
    }
    const v = policy.decide(next);
    if (!v.ok && !(v.reason === 'outside' && policy.isRootAncestor(next))) return { ok: false, denial: v, moved: false, followed };
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        missing = true;
        cur = next;
        continue;
      }
      return { ok: false, problem: code === 'ENOTDIR' ? 'not-directory' : code === 'ELOOP' ? 'loop' : 'inaccessible', followed };
    }
    if (st.isSymbolicLink()) {
      if (mode === 'write' && isWithin(next, rootReal)) return { ok: false, problem: 'symlink-write', followed };
      if (++links > MAX_LINKS) return { ok: false, problem: 'loop', followed };
      let target: string;
      try {
        target = readlinkSync(next);
      } catch {
        return { ok: false, problem: 'inaccessible', followed };
      }
      followed = true;
      if (target.startsWith('/')) cur = '/';
      for (const part of target.split('/').reverse()) todo.push(part);
      continue;
    }
    const was = ids.lookup(st);
    if (was !== undefined && was !== next) moved.push({ at: next, was });
    cur = next;
  }
  const fv = policy.decide(cur);
  if (!fv.ok) return { ok: false, denial: fv, moved: false, followed };
  const denial = movedDenial(cur, moved, policy);
  if (denial) return { ok: false, denial, moved: true, followed };
  if (mode === 'write' && cur === policy.realForm(fv.root)) return { ok: false, problem: 'root-write', followed };
  return { ok: true, path: cur, exists: !missing, root: fv.root, followed };
}

/** Where the path would be if every object on it were still where it was seen; a denial if that is blocked. */
export function movedDenial(p: string, moved: Array<{ at: string; was: string }>, policy: PathPolicy): PathDenial | undefined {
  for (const m of moved) {
    if (!isWithin(p, m.at)) continue;
    const v = policy.decide(m.was + p.slice(m.at.length));
    if (!v.ok) return v;
  }
  return undefined;
}
