/**
 * Masks over hidden and blocked paths inside the sandbox's binds, made so that nothing an agent does
 * inside can expose what they cover: each mask is a mount point (an empty read-only tmpfs over a
 * directory, /dev/null over anything else), and inside a read-write bind every directory between the
 * bind and a mask is pinned as a mount point too (bound onto itself). The kernel refuses to rename or
 * remove a mount point (EBUSY), so `mv proj proj_moved` cannot carry a blocked `proj/.env` into view.
 *
 * A blocked path that does not exist inside a read-write bind would otherwise be the agent's to create
 * (a planted `~/.ssh/authorized_keys`), so ensureMaskPoints() creates it first: missing directories on
 * the way with mode 0755, the blocked path itself as an empty directory with mode 0000, owned by the
 * gateway. A symlink on the way to a blocked path means it could be moved, and the sandbox is refused.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ClawguardError } from '../errors/index.js';
import { isWithin, realOrPlanned } from './path-canonical.js';

export interface MountBind {
  kind: 'ro' | 'rw';
  src: string;
  dest: string;
}

/** The forms of hidden paths that get masks: where each really is (or would be), outermost only. */
export function maskTargets(hidden: string[]): string[] {
  const forms = [...new Set(hidden.map((h) => realOrPlanned(h)))];
  return forms.filter((h) => !forms.some((o) => o !== h && isWithin(h, o)));
}

function unavailable(target: string, why: string): never {
  throw new ClawguardError('sandbox_unavailable', `sandbox refused: blocked path "${target}" ${why}`);
}

/** Create the mask points that are missing inside read-write bind sources (see the module comment). */
export function ensureMaskPoints(hidden: string[], rwSources: string[]): void {
  // The paths as configured too: one that passes through a symlink inside the bind is refused below.
  for (const t of new Set([...hidden.map((h) => path.resolve(h)), ...maskTargets(hidden)])) {
    for (const src of rwSources.map((s) => realOrPlanned(s))) {
      if (t === src || !isWithin(t, src)) continue;
      const parts = path.relative(src, t).split('/');
      let cur = src;
      parts.forEach((name, i) => {
        cur = path.join(cur, name);
        const last = i === parts.length - 1;
        let st = lstatSync(cur, { throwIfNoEntry: false });
        if (!st) {
          try {
            mkdirSync(cur, { mode: last ? 0 : 0o755 });
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') unavailable(t, `does not exist and its mask point could not be created (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
          }
          st = lstatSync(cur, { throwIfNoEntry: false });
        }
        if (!st) unavailable(t, 'vanished while its mask point was being created');
        if (st.isSymbolicLink()) unavailable(t, `lies behind a symlink at "${cur}", which an agent could move; replace the symlink or block its target`);
        if (!last && !st.isDirectory()) unavailable(t, `has a non-directory on its way ("${cur}")`);
      });
    }
  }
}

const depth = (p: string) => (p === '/' ? 0 : p.split('/').length);

/** The bind whose view holds sandbox path `p` (the deepest destination containing it). */
function viewOf(p: string, binds: MountBind[]): MountBind | undefined {
  let best: MountBind | undefined;
  for (const b of binds) if (isWithin(p, b.dest) && (!best || depth(b.dest) > depth(best.dest))) best = b;
  return best;
}

/**
 * Pins (self-binds of ancestors in read-write views) and masks for the targets inside the binds.
 * A target that is missing where the agent could create it is an error: call ensureMaskPoints first.
 */
export function maskPlan(targets: string[], binds: MountBind[]): { pins: MountBind[]; masks: Array<{ dir: boolean; dest: string }> } {
  const pins = new Map<string, MountBind>();
  const masks = new Map<string, { dir: boolean; dest: string }>();
  const dests = new Set(binds.map((b) => b.dest));
  for (const t of targets) {
    for (const b of binds) {
      if (t === b.src || !isWithin(t, b.src)) continue;
      const inside = path.join(b.dest, path.relative(b.src, t));
      if (masks.has(inside)) continue;
      const st = lstatSync(t, { throwIfNoEntry: false });
      if (!st) {
        if (viewOf(inside, binds)?.kind === 'rw') unavailable(t, 'does not exist and has no mask point, so an agent could create it');
        continue;
      }
      masks.set(inside, { dir: st.isDirectory(), dest: inside });
      for (let a = path.dirname(inside); a !== b.dest && isWithin(a, b.dest); a = path.dirname(a)) {
        if (dests.has(a) || pins.has(a)) continue;
        const view = viewOf(a, binds);
        if (!view || view.kind !== 'rw') continue; // a read-only view cannot be renamed in anyway
        pins.set(a, { kind: 'rw', src: path.join(view.src, path.relative(view.dest, a)), dest: a });
      }
    }
  }
  return { pins: [...pins.values()], masks: [...masks.values()].sort((x, y) => depth(x.dest) - depth(y.dest)) };
}
