/**
 * Names in a config that only the state dir can confirm: `secrets.<name>.agents` may name a
 * profile or an agent in the registry. Checked where the registry is at hand (`config check`
 * with a state dir, the gateway at start), not by parseConfig, which knows no state dir.
 */
import { didYouMean, type ConfigProblem } from './problems.js';
import type { ClawguardConfig } from './types.js';

/**
 * With `registered` (the registry's agent ids), a name that is neither a profile nor a registered
 * agent is an error. Without it (no readable registry), such a name cannot be confirmed: a warning.
 */
export function secretAgentProblems(config: Pick<ClawguardConfig, 'agents' | 'secrets'>, registered?: ReadonlySet<string>): { errors: ConfigProblem[]; warnings: ConfigProblem[] } {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const profiles = Object.keys(config.agents);
  const known = [...profiles, ...(registered ?? [])];
  for (const s of Object.values(config.secrets)) {
    s.agents.forEach((name, i) => {
      if (profiles.includes(name) || registered?.has(name)) return;
      const hint = didYouMean(name, known);
      const path = `secrets.${s.name}.agents[${i}]`;
      if (registered) errors.push({ path, message: `unknown agent ${JSON.stringify(name)}: neither a profile nor an agent registered in the state dir${hint ? ` (did you mean "${hint}"?)` : ''}` });
      else warnings.push({ path, message: `agent ${JSON.stringify(name)} is not a profile, and no agent registry was readable to confirm it is a registered agent${hint ? ` (did you mean "${hint}"?)` : ''}` });
    });
  }
  return { errors, warnings };
}
