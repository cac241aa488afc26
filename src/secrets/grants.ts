/**
 * An authorize() that decides from the config alone: allowed when `secrets.<name>.agents` names the
 * principal's profile or agent id and the secret may go somewhere: to the destination, when there
 * is one, by allowedHosts (hosts.ts, the broker's own test); never when allowedHosts is empty, which
 * means nowhere here as in the broker and the config tier's Cedar. The CLI resolver and tests use
 * it; the gateway asks its PDP.
 */
import type { SecretConfig } from '../config/index.js';
import type { Principal } from '../pipeline/index.js';
import { hostAllowed } from './hosts.js';
import type { Authorize } from './types.js';

export function configGrantAuthorizer(secrets: Record<string, SecretConfig>): Authorize {
  return async (p: Principal, name: string, _host: string, destination?: URL) => {
    const s = secrets[name];
    if (!s) return { effect: 'deny', reasons: [`no secret named "${name}"`] };
    const who = p.profile && s.agents.includes(p.profile) ? p.profile : s.agents.includes(p.agentId) ? p.agentId : undefined;
    if (!who) return { effect: 'deny', reasons: [`secrets.${name}.agents does not name "${p.profile ?? p.agentId}"`] };
    if (s.allowedHosts.length === 0) return { effect: 'deny', reasons: [`secrets.${name}.allowedHosts is empty: the secret may be sent nowhere`] };
    if (destination && !hostAllowed(s.allowedHosts, destination)) return { effect: 'deny', reasons: [`${destination.origin} is not in secrets.${name}.allowedHosts`] };
    return { effect: 'allow', reasons: [`secrets.${name}.agents grants "${who}"`] };
  };
}
