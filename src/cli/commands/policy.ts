/**
 * `clawguard policy`: explain one decision, test a table of expected decisions (policy CI), check
 * and list the policies in force, print the schema, reload a running gateway. Everything but
 * reload works without a gateway: it loads the config and the state dir's policies directly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { ClawguardConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import type { CedarDecisionPoint, ReloadResult } from '../../policy/index.js';
import { api, type GlobalOpts, loadConfig, ok, print, stateDirOf } from '../context.js';

function json(flag: string, s: string | undefined): unknown {
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new ClawguardError('bad_request', `${flag}: not valid JSON (${(e as Error).message})`);
  }
}

async function openPdp(g: GlobalOpts): Promise<{ pdp: CedarDecisionPoint; config: ClawguardConfig; load: ReloadResult }> {
  const { CedarDecisionPoint } = await import('../../policy/index.js');
  const config = loadConfig(g);
  // The local tier is read only where it exists: a read-only command creates no state dir or policies/ in it.
  const stateDir = stateDirOf(g);
  const pdp = new CedarDecisionPoint({ config, ...(existsSync(join(stateDir, 'policies')) ? { stateDir } : {}), cacheSize: 0 });
  return { pdp, config, load: pdp.load() };
}

function requireLoaded(load: ReloadResult): void {
  if (!load.ok) throw new ClawguardError('policy_invalid', `the policies do not load:\n  ${load.errors.join('\n  ')}`);
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('explain, test and check access policies (Cedar; tiers local > config > default)');

  policy
    .command('explain')
    .description('the decision for one request, the tier that made it, and why (works without a gateway); exit 1 if denied')
    .requiredOption('--agent <name>', 'a profile of the config (its runs), or a registered agent id')
    .requiredOption('--action <tool>', 'the tool, e.g. fs.read, http.fetch, exec.run, secret.use')
    .option('--resource <r>', 'what it acts on: a path, a URL or host, a command, a secret name')
    .option('--args <json>', 'the tool arguments (merged over what --resource implies)')
    .option('--context <json>', 'decision context: {"anomalyScore": 0.9, "time": "…", "isolation": "process"}')
    .option('--principal <json>', 'principal details: {"trustLevel": "…", "capabilities": […], "roles": […], "profile": "…"}')
    .option('--json', 'machine-readable output')
    .action(async (o: { agent: string; action: string; resource?: string; args?: string; context?: string; principal?: string; json?: boolean }, cmd: Command) => {
      const { explainInput, buildExplainRequest } = await import('../../policy/index.js');
      const parsed = explainInput.safeParse({
        agent: o.agent,
        action: o.action,
        ...(o.resource !== undefined ? { resource: o.resource } : {}),
        ...(o.args !== undefined ? { args: json('--args', o.args) } : {}),
        ...(o.context !== undefined ? { context: json('--context', o.context) } : {}),
        ...(o.principal !== undefined ? { principal: json('--principal', o.principal) } : {}),
      });
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new ClawguardError('bad_request', `--${i.path[0] ?? 'input'}${i.path.length > 1 ? `.${i.path.slice(1).join('.')}` : ''}: ${i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.join(', ')}` : i.message}`);
      }
      const { pdp, config, load } = await openPdp(cmd.optsWithGlobals<GlobalOpts>());
      requireLoaded(load);
      const { req, ctx } = buildExplainRequest(parsed.data, config.agents);
      const e = pdp.explain(req, ctx);
      const out = { decision: e.effect, tier: e.tier, policies: e.policies, reasons: e.reasons };
      print(!!o.json, out, () =>
        [
          `${e.effect === 'allow' ? 'ALLOW' : 'DENY'}  ${o.action}${o.resource ? ` ${o.resource}` : ''} for ${o.agent}`,
          `tier      ${e.tier}`,
          `policies  ${e.policies.join(', ') || '-'}`,
          ...e.reasons.map((r, i) => `${i === 0 ? 'reasons' : '       '}   ${r}`),
          `evaluated ${e.evaluated.length} polic${e.evaluated.length === 1 ? 'y' : 'ies'} whose scope matched${e.evaluated.length ? ` (${e.evaluated.join(', ')})` : ''}`,
        ].join('\n'),
      );
      if (e.effect !== 'allow') process.exitCode = 1;
    });

  policy
    .command('test')
    .argument('<cases>', 'JSON file: [{ "agent", "action", "resource"?, "args"?, "context"?, "principal"?, "expect": "allow"|"deny", "tier"?, "policies"? }]')
    .option('--json', 'machine-readable output')
    .description('run a table of expected decisions against the policies; exit 1 on any mismatch')
    .action(async (file: string, o: { json?: boolean }, cmd: Command) => {
      const { parsePolicyCases, runPolicyCases } = await import('../../policy/index.js');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new ClawguardError('bad_request', `cannot read ${file}: ${(e as Error).message}`);
      }
      const cases = parsePolicyCases(json(file, text));
      const { pdp, config, load } = await openPdp(cmd.optsWithGlobals<GlobalOpts>());
      requireLoaded(load);
      const results = runPolicyCases(pdp, cases, config.agents);
      const failed = results.filter((r) => !r.ok).length;
      print(!!o.json, { passed: results.length - failed, failed, results }, () =>
        [
          ...results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name}: ${r.actual.decision} (${r.actual.tier}${r.actual.policies.length ? `: ${r.actual.policies.join(', ')}` : ''})${r.ok ? '' : ` — ${r.mismatches.join('; ')}`}`),
          `${results.length - failed} passed, ${failed} failed`,
        ].join('\n'),
      );
      if (failed) process.exitCode = 1;
    });

  policy
    .command('check')
    .option('--json', 'machine-readable output')
    .description('parse and validate every tier against the schema; exit 1 if anything is invalid')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { pdp, load } = await openPdp(cmd.optsWithGlobals<GlobalOpts>());
      print(!!o.json, { ...load, localDir: pdp.localDir.dir ?? null }, () =>
        load.ok
          ? `policies valid: ${load.counts!.local} local (${pdp.localDir.dir ? `${load.files.length} file${load.files.length === 1 ? '' : 's'} in ${pdp.localDir.dir}` : `no directory ${join(stateDirOf(cmd.optsWithGlobals<GlobalOpts>()), 'policies')}`}), ${load.counts!.config} compiled from the config, ${load.counts!.default} default`
          : `policies INVALID:\n  ${load.errors.join('\n  ')}`,
      );
      if (!load.ok) process.exitCode = 1;
    });

  policy
    .command('list')
    .option('--json', 'machine-readable output')
    .option('--text', 'print each policy’s Cedar source')
    .description('the policies in force, tier by tier')
    .action(async (o: { json?: boolean; text?: boolean }, cmd: Command) => {
      const { pdp, load } = await openPdp(cmd.optsWithGlobals<GlobalOpts>());
      requireLoaded(load);
      const list = pdp.policies();
      print(!!o.json, { policies: list }, () =>
        list.length ? list.map((p) => `${p.tier.padEnd(8)} ${p.effect.padEnd(7)} ${p.id}  (${p.origin})${o.text ? `\n${p.text.replace(/^/gm, '    ')}` : ''}`).join('\n') : '(no policies: everything is denied)',
      );
    });

  policy
    .command('schema')
    .description('print the Cedar schema policies are validated against (JSON schema format)')
    .action(async (_o: unknown, cmd: Command) => {
      const { pdp } = await openPdp(cmd.optsWithGlobals<GlobalOpts>());
      process.stdout.write(`${JSON.stringify(pdp.schema(), null, 2)}\n`);
    });

  policy
    .command('reload')
    .option('--json', 'machine-readable output')
    .description('make the running gateway re-read its local policies (as SIGHUP does)')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const r = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'POST', '/v1/policy/reload')) as ReloadResult;
      print(!!o.json, r, () => `policies reloaded: ${r.counts?.local ?? 0} local, ${r.counts?.config ?? 0} config`);
    });
}
