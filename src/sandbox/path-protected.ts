/**
 * What an agent must never reach: the gateway's state dir (operator token, master key, audit log), the
 * local policy directory (a written `permit(principal, action, resource);` would grant everything on
 * the next reload), the config file and every agent's entry module (code the gateway runs). The gateway
 * refuses to start when one of them lies inside a workspace or an allowed path, or one of those inside
 * it: a blocked path is a second line, not a reason to put the crown jewels in reach.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { ClawguardConfig } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import { expandTilde, isWithin } from './path-canonical.js';

export interface ProtectedPath {
  what: string;
  path: string;
}

/** The protected paths of a configuration run with this state dir. */
export function protectedPaths(config: Pick<ClawguardConfig, 'agents' | 'policy' | 'source'>, stateDir: string): ProtectedPath[] {
  const out: ProtectedPath[] = [{ what: 'the state dir (operator token, master key, audit log)', path: path.resolve(stateDir) }];
  out.push({ what: 'the local policy directory (policy.dir)', path: path.resolve(config.policy.dir ?? path.join(stateDir, 'policies')) });
  if (config.source) out.push({ what: 'the config file', path: path.resolve(config.source) });
  for (const p of Object.values(config.agents)) if (p.entry) out.push({ what: `the entry module of agents.${p.name}`, path: path.resolve(p.entry) });
  return out;
}

function forms(p: string): string[] {
  const lexical = path.resolve(expandTilde(p));
  // The nearest existing ancestor's real path, plus the missing rest: where the path really is or would be.
  for (let head = lexical, tail = ''; ; ) {
    try {
      const real = realpathSync(head);
      const full = tail ? path.join(real, tail) : real;
      return full === lexical ? [lexical] : [lexical, full];
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return [lexical];
      tail = tail ? path.join(path.basename(head), tail) : path.basename(head);
      head = parent;
    }
  }
}

/** Every place an agent can reach, by profile (and the global sandbox for principals without one). */
function reachable(config: Pick<ClawguardConfig, 'agents' | 'sandbox'>): Array<{ where: string; path: string }> {
  const out: Array<{ where: string; path: string }> = [];
  config.sandbox.allowedPaths.forEach((a, i) => out.push({ where: `sandbox.fileAccess.allowedPaths[${i}]`, path: a }));
  for (const p of Object.values(config.agents)) {
    if (p.sandbox !== config.sandbox) p.sandbox.allowedPaths.forEach((a, i) => out.push({ where: `agents.${p.name}.sandbox.fileAccess.allowedPaths[${i}]`, path: a }));
    if (p.workspace) out.push({ where: `the workspace of agents.${p.name}`, path: p.workspace });
  }
  return out;
}

/** One line per protected path an agent could reach; empty when there is none. */
export function agentReachProblems(config: Pick<ClawguardConfig, 'agents' | 'sandbox' | 'policy' | 'source'>, stateDir: string): string[] {
  const problems: string[] = [];
  const areas = reachable(config).map((a) => ({ ...a, forms: forms(a.path) }));
  for (const pr of protectedPaths(config, stateDir)) {
    const pf = forms(pr.path);
    for (const a of areas) {
      const inside = pf.some((p) => a.forms.some((f) => isWithin(p, f)));
      const around = !inside && a.forms.some((f) => pf.some((p) => isWithin(f, p)));
      if (inside) problems.push(`${pr.what} ${pr.path} lies inside ${a.where} (${a.path}): an agent could read or change it there; move it outside every workspace and allowed path`);
      else if (around) problems.push(`${a.where} (${a.path}) lies inside ${pr.what} ${pr.path}: an agent could read or change it there; choose a path outside it`);
    }
  }
  return problems;
}

/** Refuse to serve a configuration that puts a protected path within an agent's reach. */
export function assertAgentsCannotReach(config: Pick<ClawguardConfig, 'agents' | 'sandbox' | 'policy' | 'source'>, stateDir: string): void {
  const problems = agentReachProblems(config, stateDir);
  if (problems.length) throw new ClawguardError('config_invalid', `refusing to start: ${problems.join('; ')}`);
}
