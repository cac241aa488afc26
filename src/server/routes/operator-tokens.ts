/** Operator API for scoped operator tokens (admin scope). The secret is shown once, at creation. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ClawguardError } from '../../errors/index.js';
import type { IdentityService } from '../../identity/index.js';
import type { AuditSink } from '../../pipeline/index.js';
import type { OperatorAuth } from '../operator-auth.js';
import { parseInput } from './parse.js';

const createBody = z.object({ name: z.string(), scopes: z.union([z.array(z.string()), z.string()]), expires: z.union([z.string(), z.number()]).optional() }).strict();

export function registerOperatorTokenRoutes(d: { identity: IdentityService; auth: OperatorAuth; audit: () => AuditSink }): (app: FastifyInstance) => void {
  const { identity, auth } = d;
  return (app) => {
    app.get('/v1/operator-tokens', async (req) => {
      auth.require(req, 'admin');
      return { tokens: identity.operators.list() };
    });

    app.post('/v1/operator-tokens', async (req, reply) => {
      const op = auth.require(req, 'admin');
      const b = parseInput(createBody, req.body);
      try {
        await d.audit().record({ type: 'identity.operator_token.created', subject: op.name, action: 'identity.operator_token.create', resource: `operator-token:${b.name}`, decision: 'allow', payload: { operator: op.id, name: b.name, scopes: b.scopes, expires: b.expires ?? null } });
      } catch (e) {
        throw new ClawguardError('audit_unavailable', `token refused: the audit record could not be written (${(e as Error).message})`);
      }
      return reply.code(201).send(identity.operators.create(b));
    });

    app.delete('/v1/operator-tokens/:id', async (req) => {
      const op = auth.require(req, 'admin');
      const id = String((req.params as { id?: string }).id ?? '');
      const t = identity.operators.revoke(id);
      await d.audit().record({ type: 'identity.operator_token.revoked', subject: op.name, action: 'identity.operator_token.revoke', resource: `operator-token:${id}`, decision: 'allow', payload: { operator: op.id } }).catch((e: Error) => identity.log.error({ err: e.message, id }, 'audit of a token revocation failed'));
      return t;
    });
  };
}
