/**
 * Operator API for scoped operator tokens (admin scope). The secret is shown once, at creation.
 * Creation and revocation follow recordedChange: validated, recorded, then made.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ClawguardError } from '../../errors/index.js';
import type { IdentityService } from '../../identity/index.js';
import type { AuditSink } from '../../pipeline/index.js';
import type { OperatorAuth } from '../operator-auth.js';
import { parseInput } from './parse.js';
import { recordedChange } from './recorded-change.js';

const createBody = z.object({ name: z.string(), scopes: z.union([z.array(z.string()), z.string()]), expires: z.union([z.string(), z.number()]).optional() }).strict();
const TOKEN_ID = /^[0-9a-f]{16}$/;

export function registerOperatorTokenRoutes(d: { identity: IdentityService; auth: OperatorAuth; audit: () => AuditSink }): (app: FastifyInstance) => void {
  const { identity, auth } = d;
  return (app) => {
    app.get('/v1/operator-tokens', async (req) => {
      auth.require(req, 'admin');
      return { tokens: identity.operators.list() };
    });

    app.post('/v1/operator-tokens', async (req, reply) => {
      const op = auth.require(req, 'admin');
      const t = identity.operators.validate(parseInput(createBody, req.body));
      const created = await recordedChange(
        d.audit,
        { type: 'identity.operator_token.created', subject: op.name, action: 'identity.operator_token.create', resource: `operator-token:${t.name}`, decision: 'allow', payload: { operator: op.id, name: t.name, scopes: t.scopes, expires: t.expires } },
        'token',
        () => identity.operators.insert(t),
        identity.log,
      );
      return reply.code(201).send(created);
    });

    app.delete('/v1/operator-tokens/:id', async (req) => {
      const op = auth.require(req, 'admin');
      const id = String((req.params as { id?: string }).id ?? '');
      if (!TOKEN_ID.test(id) || !identity.operators.get(id)) throw new ClawguardError('not_found', `no operator token ${JSON.stringify(id.slice(0, 80))}`);
      return recordedChange(
        d.audit,
        { type: 'identity.operator_token.revoked', subject: op.name, action: 'identity.operator_token.revoke', resource: `operator-token:${id}`, decision: 'allow', payload: { operator: op.id } },
        'revocation',
        () => identity.operators.revoke(id),
        identity.log,
      );
    });
  };
}
