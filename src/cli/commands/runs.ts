import type { Command } from 'commander';
import { ClawguardError } from '../../errors/index.js';
import { api, type GlobalOpts, ok, print } from '../context.js';
import { renderSecretsTable } from './secrets.js';

type Run = { runId: string; profile: string; state: string; durationMs: number | null; error: { code: string; message: string } | null; output: unknown; createdAt: string };

function line(r: Run): string {
  return `${r.runId}  ${r.profile.padEnd(16)} ${r.state.padEnd(10)} ${r.durationMs === null ? '-' : `${Math.round(r.durationMs)} ms`}${r.error ? `  ${r.error.code}: ${r.error.message}` : ''}`;
}

function detail(r: Run): string {
  return Object.entries(r)
    .map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}

function parseInput(s: string | undefined): unknown {
  if (s === undefined) return null;
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new ClawguardError('bad_request', `--input: not valid JSON (${(e as Error).message})`);
  }
}

export function registerRunCommands(program: Command): void {
  program
    .command('run')
    .argument('<profile>', 'agent profile from the config')
    .option('--input <json>', 'input for the agent, as JSON')
    .option('--session <key>', 'session key (session-bound profiles)')
    .option('--wait', 'wait for the run to finish and print it')
    .option('--json', 'machine-readable output')
    .description('start a run through the gateway')
    .action(async (profile: string, o: { input?: string; session?: string; wait?: boolean; json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const body = { profile, input: parseInput(o.input), ...(o.session ? { sessionKey: o.session } : {}) };
      const r = ok(await api(g, 'POST', `/v1/runs${o.wait ? '?wait=1' : ''}`, body)) as Run | { runId: string };
      if (!o.wait) return print(!!o.json, r, () => r.runId);
      const run = r as Run;
      print(!!o.json, run, () => detail(run));
      if (run.state !== 'succeeded') process.exitCode = 1;
    });

  const runs = program.command('runs').description('list, inspect, kill and replay runs');
  runs
    .command('list')
    .option('--profile <name>')
    .option('--state <state>')
    .option('--limit <n>')
    .option('--json', 'machine-readable output')
    .action(async (o: { profile?: string; state?: string; limit?: string; json?: boolean }, cmd: Command) => {
      const q = new URLSearchParams();
      if (o.profile) q.set('profile', o.profile);
      if (o.state) q.set('state', o.state);
      if (o.limit) q.set('limit', o.limit);
      const r = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'GET', `/v1/runs${q.size ? `?${q}` : ''}`)) as { runs: Run[] };
      print(!!o.json, r, () => (r.runs.length ? r.runs.map(line).join('\n') : '(no runs)'));
    });
  runs
    .command('show')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const r = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'GET', `/v1/runs/${encodeURIComponent(id)}`)) as Run;
      print(!!o.json, r, () => detail(r));
    });
  runs
    .command('kill')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const r = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'DELETE', `/v1/runs/${encodeURIComponent(id)}`)) as Run;
      print(!!o.json, r, () => line(r));
    });
  runs
    .command('replay')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .description('re-execute a deterministic run against its record; exit 1 if it diverged')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const r = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'POST', `/v1/runs/${encodeURIComponent(id)}/replay`)) as { same: boolean; recordedCalls: number; replayedCalls: number; outputSame: boolean; divergence?: unknown };
      print(!!o.json, r, () =>
        r.same
          ? `replay of ${id}: same (${r.recordedCalls} calls in the same order, same output)`
          : `replay of ${id}: DIVERGED${r.divergence ? ` at ${JSON.stringify(r.divergence)}` : ''}${r.outputSame ? '' : ' (output differs)'}`,
      );
      if (!r.same) process.exitCode = 1;
    });
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .option('--agents', 'per-profile runtime status')
    .option('--secrets', 'secrets: source, health, rotation, uses, grants, exposures')
    .option('--json', 'machine-readable output')
    .description('gateway status')
    .action(async (o: { agents?: boolean; secrets?: boolean; json?: boolean }, cmd: Command) => {
      const s = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'GET', '/v1/status')) as {
        gateway: Record<string, unknown>;
        isolation: Record<string, { available: boolean; reason?: string }>;
        agents: Array<Record<string, unknown>>;
        secrets: Parameters<typeof renderSecretsTable>[0];
      } & SecurityStatus;
      if (o.secrets) return print(!!o.json, { secrets: s.secrets.secrets, masterKey: s.secrets.masterKey }, () => renderSecretsTable(s.secrets));
      const view = o.agents ? { agents: s.agents } : s;
      print(!!o.json, view, () => {
        const lines: string[] = [];
        if (!o.agents) {
          lines.push(`gateway ${s.gateway.url} (pid ${s.gateway.pid}, up ${s.gateway.uptimeSeconds} s)`, `config  ${s.gateway.config}`, `state   ${s.gateway.stateDir}`);
          for (const [lvl, a] of Object.entries(s.isolation)) lines.push(`isolation ${lvl}: ${a.available ? 'available' : `UNAVAILABLE (${a.reason})`}`);
          lines.push(...securityLines(s));
          lines.push('');
        }
        lines.push('PROFILE           RUNTIME       ISOLATION  MODEL                       TIMEOUT  MAX  ACTIVE  QUEUED  OK/FAIL/TIMEOUT/KILLED   P50 ms   P95 ms  WARM POOL');
        for (const a of s.agents) {
          const t = a.totals as Record<string, number>;
          const w = a.warmPool as { target: number; ready: number; healthy: boolean; lastError?: string };
          const f = (v: unknown) => (v === null ? '-' : String(Math.round(Number(v))));
          lines.push(
            `${String(a.profile).padEnd(17)} ${String(a.runtime).padEnd(13)} ${String(a.isolation).padEnd(10)} ${String(a.model ?? '-').padEnd(27)} ${`${a.timeoutSeconds}s`.padStart(7)}  ${String(a.maxConcurrent).padStart(3)}  ${String(a.active).padStart(6)}  ${String(a.queued).padStart(6)}  ${`${t.succeeded ?? 0}/${t.failed ?? 0}/${t.timed_out ?? 0}/${t.killed ?? 0}`.padEnd(22)} ${f(a.p50Ms).padStart(7)}  ${f(a.p95Ms).padStart(7)}  ${w.ready}/${w.target} ${w.healthy ? 'healthy' : `UNHEALTHY${w.lastError ? ` (${w.lastError})` : a.isolationUnavailableReason ? ` (${a.isolationUnavailableReason})` : ''}`}`,
          );
        }
        return lines.join('\n');
      });
    });
}

/** The parts of GET /v1/status that securityLines reads. */
interface SecurityStatus {
  policy?: { ok: boolean; reason?: string; policies: Record<string, number>; loadedAt: string | null };
  audit?: { ok: boolean; reason?: string; lastSeq: number; lastCheckpoint: { treeSize: number; time: string } | null; writeFailures: number };
  identity?: { agents: Record<string, number>; signatures?: { engine: string }; rejectedRequests: number; requireAuthentication: boolean; signAllRequests: boolean };
}

/** Policy, audit and identity in one line each: what an operator checks first when actions are denied. */
function securityLines(s: SecurityStatus): string[] {
  const out: string[] = [];
  const p = s.policy;
  if (p) out.push(`policy    ${p.ok ? 'ok' : `FAILING (${p.reason}): every action is denied`}; local ${p.policies.local ?? 0}, config ${p.policies.config ?? 0}, default ${p.policies.default ?? 0}${p.loadedAt ? `; loaded ${p.loadedAt}` : ''}`);
  const a = s.audit;
  if (a) out.push(`audit     ${a.ok ? 'ok' : `UNAVAILABLE (${a.reason}): actions are denied`}; last seq ${a.lastSeq}${a.lastCheckpoint ? `, checkpoint at ${a.lastCheckpoint.treeSize} (${a.lastCheckpoint.time})` : ''}${a.writeFailures ? `; ${a.writeFailures} write failures` : ''}`);
  const i = s.identity;
  if (i) out.push(`identity  agents ${i.agents.active ?? 0} active, ${i.agents.revoked ?? 0} revoked, ${i.agents.expired ?? 0} expired; authentication ${i.requireAuthentication ? 'required' : 'optional (loopback)'}${i.signAllRequests ? ', every request signed' : ''}; signatures by ${i.signatures?.engine ?? '?'}; ${i.rejectedRequests} requests rejected`);
  return out;
}
