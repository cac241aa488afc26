/**
 * An authorize() that decides from the config alone: allowed when `secrets.<name>.agents` names the
 * principal's profile or agent id. The CLI resolver and tests use it; the gateway asks its PDP.
 */
import type { SecretConfig } from '../config/index.js';
import type { Principal } from '../pipeline/index.js';
import type { Authorize } from './types.js';

export function configGrantAuthorizer(secrets: Record<string, SecretConfig>): Authorize {
  return async (p: Principal, name: string) => {
    const s = secrets[name];
    if (!s) return { effect: 'deny', reasons: [`no secret named "${name}"`] };
    const who = p.profile && s.agents.includes(p.profile) ? p.profile : s.agents.includes(p.agentId) ? p.agentId : undefined;
    return who
      ? { effect: 'allow', reasons: [`secrets.${name}.agents grants "${who}"`] }
      : { effect: 'deny', reasons: [`secrets.${name}.agents does not name "${p.profile ?? p.agentId}"`] };
  };
}
