import { ClawguardError, errorShape } from '../errors/index.js';
import type { Metrics } from '../monitor/index.js';
import type { ActionRequest, AuditEventInput, AuditSink, ContextProvider, Decision, DecisionPoint, OutputFilter, PreparedCall, PrincipalVerifier, ToolExecutor, ToolResult } from './types.js';

export interface PipelineDeps {
  verifier: PrincipalVerifier;
  context: ContextProvider;
  pdp: DecisionPoint;
  audit: AuditSink;
  tools: ToolExecutor;
  output: OutputFilter;
  metrics?: Metrics;
  /** Log for records that cannot be written after the fact (a tool's outcome). */
  log?: { error(obj: object, msg?: string): void };
}

function fail(code: string, message: string): ToolResult {
  return { ok: false, error: { code, message } };
}

/**
 * The single path for every tool call, whatever door it came in by. Never throws: errors are results.
 * authenticate → prepare (canonical arguments) → context → decide → audit (durable) → enforce → record the outcome.
 */
export class Pipeline {
  constructor(private readonly d: PipelineDeps) {}

  async callTool(req: ActionRequest): Promise<ToolResult> {
    const { principal, tool } = req;
    const known = this.d.tools.has(tool);
    const observe = (result: string) => this.d.metrics?.toolCallsTotal.inc({ tool: known ? tool : 'unknown', result });
    const base = { agentId: principal.agentId, ...(principal.runId ? { runId: principal.runId } : {}), subject: principal.profile ?? principal.agentId, action: tool };
    const ctxOf = { principal, ...(req.signal ? { signal: req.signal } : {}) };
    // 1. authenticate: the door established the principal; re-check it is still valid now.
    try {
      await this.d.verifier.verify(principal);
    } catch (e) {
      observe('unauthenticated');
      const s = errorShape(e, 'unauthenticated');
      // Refused either way; the record is best effort (the call was never going to run).
      await this.d.audit.record({ type: 'tool.rejected', ...base, decision: 'deny', payload: { code: s.code, message: s.message, door: principal.door } }).catch(() => undefined);
      return fail(s.code, s.message);
    }
    // 2. prepare: validated, canonical arguments; policy, audit and the tool all see this same form.
    let call: PreparedCall | undefined;
    if (known) {
      try {
        call = await this.d.tools.prepare(tool, req.args, ctxOf);
      } catch (e) {
        const s = e instanceof ClawguardError ? e.toJSON() : errorShape(e, 'bad_request');
        observe(s.code);
        await this.d.audit.record({ type: 'tool.rejected', ...base, decision: 'deny', payload: { code: s.code, message: s.message, door: principal.door } }).catch(() => undefined);
        return fail(s.code, String(this.d.output.filter(s.message)));
      }
    }
    // 3. context, 4. decide
    let decision: Decision;
    try {
      const prepared = call ? { ...req, args: call.args } : req;
      const ctx = await this.d.context.build(prepared);
      decision = call ? await this.d.pdp.decide(prepared, ctx) : { effect: 'deny', tier: 'default', policies: [], reasons: [`unknown tool "${tool}"`] };
    } catch (e) {
      // A decision that cannot be made is a deny.
      decision = { effect: 'deny', tier: 'default', policies: [], reasons: [`decision failed: ${errorShape(e).message}`] };
    }
    // 5. audit, durable before anything executes; if it cannot be written, deny.
    let decisionSeq: number | undefined;
    try {
      const receipt = await this.d.audit.record({
        type: 'tool.decision',
        ...base,
        ...(call?.resource ? { resource: call.resource } : {}),
        decision: decision.effect,
        tier: decision.tier,
        policies: decision.policies,
        payload: { args: call ? call.audit : null, reasons: decision.reasons, door: principal.door },
      });
      decisionSeq = receipt ? receipt.seq : undefined;
    } catch (e) {
      observe('audit_unavailable');
      return fail('audit_unavailable', `action denied: the audit record could not be written (${errorShape(e).message})`);
    }
    if (decision.effect !== 'allow' || !call) {
      observe('denied');
      if (!known) return fail('tool_not_found', `no tool named "${tool}"`);
      return fail('denied', `${tool} denied by ${decision.tier} policy${decision.reasons.length ? `: ${decision.reasons.join('; ')}` : ''}`);
    }
    // 6. enforce: the tool is itself a PEP with its own independent guard.
    const t0 = performance.now();
    let result: ToolResult;
    try {
      const value = await this.d.tools.execute(tool, call, ctxOf);
      result = { ok: true, result: this.d.output.filter(value) };
    } catch (e) {
      // errorShape, not instanceof: it never throws, whatever the tool threw (a Proxy's traps).
      const s = errorShape(e, 'tool_failed');
      result = { ok: false, error: { code: s.code, message: String(this.d.output.filter(s.message)) } };
    }
    observe(result.ok ? 'ok' : result.error.code);
    // 7. the outcome, tied to its decision. The action has happened, so the answer does not wait for
    // this record; it is queued ahead of anything the caller does next (a run's end, say).
    this.recordOutcome({
      type: 'tool.result',
      ...base,
      ...(call.resource ? { resource: call.resource } : {}),
      payload: { decisionSeq: decisionSeq ?? null, ok: result.ok, ...(result.ok ? {} : { code: result.error.code, message: result.error.message }), durationMs: Math.round((performance.now() - t0) * 1000) / 1000 },
    });
    return result;
  }

  private recordOutcome(e: AuditEventInput): void {
    this.d.audit.record(e).catch((err: unknown) => this.d.log?.error({ event: e.type, action: e.action, err: errorShape(err).message }, 'the outcome of a tool call could not be recorded'));
  }
}
