import { ClawguardError, errorShape } from '../errors/index.js';
import type { Metrics } from '../monitor/index.js';
import type { ActionRequest, AuditSink, ContextProvider, DecisionPoint, OutputFilter, PrincipalVerifier, ToolExecutor, ToolResult } from './types.js';

export interface PipelineDeps {
  verifier: PrincipalVerifier;
  context: ContextProvider;
  pdp: DecisionPoint;
  audit: AuditSink;
  tools: ToolExecutor;
  output: OutputFilter;
  metrics?: Metrics;
  /** Resource string for audit (e.g. the path or host a tool acts on). */
  resourceOf?: (tool: string, args: unknown) => string | undefined;
}

function fail(code: string, message: string): ToolResult {
  return { ok: false, error: { code, message } };
}

/** The single path for every tool call, whatever door it came in by. Never throws: errors are results. */
export class Pipeline {
  constructor(private readonly d: PipelineDeps) {}

  async callTool(req: ActionRequest): Promise<ToolResult> {
    const { principal, tool } = req;
    const observe = (result: string) => this.d.metrics?.toolCallsTotal.inc({ tool: this.d.tools.has(tool) ? tool : 'unknown', result });
    // 1. authenticate: the door established the principal; re-check it is still valid now.
    try {
      await this.d.verifier.verify(principal);
    } catch (e) {
      observe('unauthenticated');
      const s = errorShape(e, 'unauthenticated');
      // Refused either way; the record is best effort (the call was never going to run).
      await this.d.audit
        .record({ type: 'tool.rejected', agentId: principal.agentId, ...(principal.runId ? { runId: principal.runId } : {}), subject: principal.profile ?? principal.agentId, action: tool, decision: 'deny', payload: { code: s.code, message: s.message, door: principal.door } })
        .catch(() => undefined);
      return fail(s.code, s.message);
    }
    const base = { agentId: principal.agentId, ...(principal.runId ? { runId: principal.runId } : {}), subject: principal.profile ?? principal.agentId, action: tool };
    const resource = this.d.resourceOf?.(tool, req.args);
    // 2. context, 3. decide
    let decision;
    try {
      const ctx = await this.d.context.build(req);
      decision = this.d.tools.has(tool)
        ? await this.d.pdp.decide(req, ctx)
        : { effect: 'deny' as const, tier: 'default' as const, policies: [], reasons: [`unknown tool "${tool}"`] };
    } catch (e) {
      // A decision that cannot be made is a deny.
      decision = { effect: 'deny' as const, tier: 'default' as const, policies: [], reasons: [`decision failed: ${errorShape(e).message}`] };
    }
    // 4. audit, durable before anything executes; if it cannot be written, deny.
    try {
      await this.d.audit.record({
        type: 'tool.decision',
        ...base,
        ...(resource ? { resource } : {}),
        decision: decision.effect,
        tier: decision.tier,
        policies: decision.policies,
        payload: { args: this.d.output.filter(req.args) as unknown, reasons: decision.reasons, door: principal.door },
      });
    } catch (e) {
      observe('audit_unavailable');
      return fail('audit_unavailable', `action denied: the audit record could not be written (${errorShape(e).message})`);
    }
    if (decision.effect !== 'allow') {
      observe('denied');
      if (!this.d.tools.has(tool)) return fail('tool_not_found', `no tool named "${tool}"`);
      return fail('denied', `${tool} denied by ${decision.tier} policy${decision.reasons.length ? `: ${decision.reasons.join('; ')}` : ''}`);
    }
    // 5. enforce: the tool is itself a PEP with its own independent guard.
    try {
      const result = await this.d.tools.execute(tool, req.args, { principal, ...(req.signal ? { signal: req.signal } : {}) });
      observe('ok');
      return { ok: true, result: this.d.output.filter(result) };
    } catch (e) {
      const s = e instanceof ClawguardError ? e.toJSON() : errorShape(e, 'tool_failed');
      observe(s.code);
      return { ok: false, error: { code: s.code, message: String(this.d.output.filter(s.message)) } };
    }
  }
}
