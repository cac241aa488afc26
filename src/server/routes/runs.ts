import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ClawguardError } from '../../errors/index.js';
import type { AuditSink } from '../../pipeline/index.js';
import type { RunManager } from '../../runtime/index.js';
import type { RunRecord } from '../../store/index.js';
import type { OperatorAuth } from '../operator-auth.js';
import { parseInput } from './parse.js';

const submitBody = z
  .object({ profile: z.string().min(1).max(200), input: z.unknown().optional(), sessionKey: z.string().min(1).max(200).optional() })
  .strict();

const runStates = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'killed', 'rejected'] as const;
const listQuery = z.object({ profile: z.string().optional(), state: z.enum(runStates).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }).strict();


/** The run as the API shows it: durationMs null until it ends. */
export function runView(r: RunRecord): Record<string, unknown> {
  return {
    runId: r.runId,
    profile: r.profile,
    state: r.state,
    isolation: r.isolation,
    ...(r.sessionKey ? { sessionKey: r.sessionKey } : {}),
    input: r.input,
    output: r.output ?? null,
    outputTruncated: r.outputTruncated,
    logsTruncated: r.logsTruncated,
    error: r.error ?? null,
    ...(r.reason ? { reason: r.reason } : {}),
    createdAt: r.createdAt,
    startedAt: r.startedAt ?? null,
    endedAt: r.endedAt ?? null,
    durationMs: r.durationMs ?? null,
    deterministic: r.deterministic,
    ...((r as { durable?: boolean }).durable === false ? { durable: false } : {}),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerRunRoutes(app: FastifyInstance, deps: { runs: RunManager; auth: OperatorAuth; audit?: () => AuditSink }): void {
  const { runs, auth } = deps;
  const runIdParam = (p: unknown): string => {
    const id = (p as { id?: string }).id ?? '';
    if (!UUID.test(id)) throw new ClawguardError('bad_request', `run id must be a UUID, got ${JSON.stringify(id.slice(0, 80))}`);
    return id;
  };

  app.post('/v1/runs', async (req, reply) => {
    auth.require(req, 'write');
    const body = parseInput(submitBody, req.body, 'body');
    const wait = (req.query as Record<string, string>)?.wait;
    const { runId, done } = runs.submit(body);
    if (wait === '1' || wait === 'true') {
      const rec = await done;
      return reply.code(200).send(runView(rec));
    }
    done.catch(() => undefined);
    return reply.code(202).header('location', `/v1/runs/${runId}`).send({ runId });
  });

  app.get('/v1/runs', async (req) => {
    auth.require(req, 'read');
    const q = parseInput(listQuery, req.query, 'query');
    return { runs: runs.list(q).map(runView) };
  });

  app.get('/v1/runs/:id', async (req) => {
    auth.require(req, 'read');
    const id = runIdParam(req.params);
    const r = runs.get(id);
    if (!r) throw new ClawguardError('run_not_found', `no run ${id}`);
    return runView(r);
  });

  app.delete('/v1/runs/:id', async (req) => {
    const op = auth.require(req, 'write');
    const id = runIdParam(req.params);
    const k = await runs.kill(id);
    if (!k) throw new ClawguardError('run_not_found', `no run ${id}`);
    const r = k.record;
    // Only a kill that ended the run is one: a run that had already ended is answered as it ended.
    if (!k.killed) throw new ClawguardError('conflict', `run ${id} had already ended (${r.state}${r.reason ? `, ${r.reason}` : ''}); nothing was killed`);
    // A kill is never held back by the audit store; who killed it is recorded once it is done.
    await deps
      .audit?.()
      .record({ type: 'operator.run.kill', runId: id, subject: op.name, action: 'run.kill', resource: `run:${id}`, decision: 'allow', payload: { operator: op.id, profile: r.profile, state: r.state } })
      .catch(() => undefined);
    return runView(r);
  });

  app.post('/v1/runs/:id/replay', async (req) => {
    auth.require(req, 'write');
    return runs.replay(runIdParam(req.params));
  });
}
