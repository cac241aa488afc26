/** Every route of the identity capability, as plugins for buildApp. */
import type { FastifyInstance } from 'fastify';
import type { ProfileConfig } from '../../config/index.js';
import type { IdentityService } from '../../identity/index.js';
import type { AuditSink, Pipeline } from '../../pipeline/index.js';
import type { OperatorAuth } from '../operator-auth.js';
import { registerAgentToolRoutes } from './agent-tools.js';
import { registerAgentRoutes } from './agents.js';
import { registerOperatorTokenRoutes } from './operator-tokens.js';
import { registerSessionRoutes } from './sessions.js';

export function identityPlugins(d: { identity: IdentityService; pipeline: Pipeline; auth: OperatorAuth; audit: () => AuditSink; profiles: () => Record<string, ProfileConfig> }): Array<(app: FastifyInstance) => void> {
  return [registerAgentRoutes(d), registerOperatorTokenRoutes(d), registerSessionRoutes(d), registerAgentToolRoutes(d)];
}
