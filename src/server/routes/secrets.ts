/** Operator API of the secrets broker: metadata and forced rotation. Values never leave through here. */
import type { FastifyInstance } from 'fastify';
import { ClawguardError } from '../../errors/index.js';
import type { SecretsBroker } from '../../secrets/index.js';
import type { OperatorAuth } from '../operator-auth.js';

const NAME = /^[A-Za-z0-9._:-]{1,200}$/;

export function registerSecretRoutes(app: FastifyInstance, deps: { secrets: SecretsBroker; auth: OperatorAuth }): void {
  const { secrets, auth } = deps;
  const nameParam = (p: unknown): string => {
    const name = (p as { name?: string }).name ?? '';
    if (!NAME.test(name)) throw new ClawguardError('bad_request', `secret name must match ${NAME.source}, got ${JSON.stringify(name.slice(0, 80))}`);
    return name;
  };

  app.get('/v1/secrets', async (req) => {
    auth.require(req);
    return secrets.status();
  });

  app.get('/v1/secrets/:name', async (req) => {
    auth.require(req);
    const name = nameParam(req.params);
    const s = secrets.status().secrets.find((x) => x.name === name);
    if (!s) throw new ClawguardError('not_found', `no secret named "${name}" is configured`);
    return s;
  });

  app.post('/v1/secrets/:name/rotate', async (req) => {
    auth.require(req);
    return secrets.rotate(nameParam(req.params), 'operator-api');
  });
}
