/**
 * Blocked paths by identity, not by name. A blocked (or hidden) path and each of its ancestors inside an
 * allowed root are remembered by device, inode and birth time, with the path they were seen at. Wherever
 * such an object turns up later (renamed, hard-linked, reached by another name), resolution maps the
 * path back to where it was seen and decides on that too, so `mv proj proj_moved` does not unblock
 * `proj/.env`. Once seen at a protected path, an identity stays protected wherever it goes; the birth
 * time keeps a recycled inode number from inheriting the block.
 *
 * The map is refreshed at most once per `ttlMs` (a few stat calls per blocked path), so a blocked path
 * created after start-up is followed from its first refresh on.
 */
import { statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { isWithin } from './path-canonical.js';

const MAX_ENTRIES = 4096;

export function identityKey(st: Pick<Stats, 'dev' | 'ino' | 'birthtimeMs'>): string {
  return `${st.dev}:${st.ino}:${st.birthtimeMs}`;
}

export class ProtectedIdentities {
  private readonly seen = new Map<string, string>();
  private refreshedAt = Number.NEGATIVE_INFINITY;
  /** Real root forms that hold at least one protected path (only those need the careful open). */
  private readonly guardedRoots: Set<string>;
  private readonly chains: Array<{ root: string; target: string }>;

  constructor(protectedPaths: string[], rootForms: string[], private readonly ttlMs = 1000) {
    this.chains = [];
    for (const p of new Set(protectedPaths)) for (const r of rootForms) if (p !== r && isWithin(p, r)) this.chains.push({ root: r, target: p });
    this.guardedRoots = new Set(this.chains.map((c) => c.root));
  }

  /** Whether anything protected lies inside this root. */
  guards(root: string): boolean {
    return this.guardedRoots.has(root);
  }

  get empty(): boolean {
    return this.chains.length === 0;
  }

  /** The path an object was seen at as a protected path or an ancestor of one, if it ever was. */
  lookup(st: Pick<Stats, 'dev' | 'ino' | 'birthtimeMs'>): string | undefined {
    return this.chains.length ? this.seen.get(identityKey(st)) : undefined;
  }

  refresh(now = performance.now()): void {
    if (this.chains.length === 0 || now - this.refreshedAt < this.ttlMs) return;
    this.refreshedAt = now;
    if (this.seen.size > MAX_ENTRIES) this.seen.clear();
    for (const { root, target } of this.chains) {
      for (let p = target; p !== root && isWithin(p, root); p = path.dirname(p)) {
        let st: Stats | undefined;
        try {
          st = statSync(p, { throwIfNoEntry: false });
        } catch {
          st = undefined; // not reachable by the gateway either
        }
        if (st) this.seen.set(identityKey(st), p);
      }
    }
  }
}
