/**
 * `clawguard security-scan --target=PATH [--rules=strict|standard] [--severity=critical,high,...]
 *  [--format=text|json|sarif] [--json] [--output FILE] [--fix]`
 * Exit 0: no finding at the selected severities; 1: findings remain; 2: usage error.
 * Option values are parsed here rather than by commander so that every usage error is one
 * clear line on stderr with exit code 2, however the program around it is configured.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { isClawguardError } from '../../errors/index.js';
import { exitCodeOf, formatReport, parseSeverities, scan, type ReportFormat, type RuleSet, type Severity } from '../../scan/index.js';
import { defaultStateDir } from '../../store/index.js';

interface ScanCliOptions {
  target?: string | boolean;
  rules?: string | boolean;
  severity?: string | boolean;
  format?: string | boolean;
  json?: boolean;
  output?: string | boolean;
  fix?: boolean;
}

class UsageError extends Error {}

function value(name: string, v: string | boolean | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === true || v === false || v === '') throw new UsageError(`--${name} needs a value`);
  return v;
}

export function registerSecurityScanCommand(program: Command): void {
  program
    .command('security-scan')
    .description('scan configs, agent/skill code and files for insecure deployments and secrets (exit 1 on findings)')
    .argument('[path]', 'file or directory to scan (same as --target)')
    .option('--target [path]', 'file or directory to scan')
    .option('--rules [set]', 'rule set: standard or strict (default standard)')
    .option('--severity [list]', 'comma-separated severities to report and fail on: critical,high,medium,low,info (default critical,high,medium,low)')
    .option('--format [format]', 'output format: text, json or sarif (default text)')
    .option('--json', 'same as --format=json')
    .option('-o, --output [file]', 'write the report to FILE instead of stdout')
    .option('--fix', 'apply the permission fixes (chmod state dir 0700, config/key files 0600) and nothing else')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .showHelpAfterError(false)
    .action(async (pathArg: string | undefined, o: ScanCliOptions, cmd: Command) => {
      try {
        // Unknown options reach us as operands (allowUnknownOption), possibly in the [path] slot.
        const extra = cmd.args.slice(pathArg === undefined || pathArg.startsWith('-') ? 0 : 1);
        const unknown = extra.find((a) => a.startsWith('-') && a !== '-');
        if (unknown) throw new UsageError(`unknown option ${unknown.split('=')[0]}`);
        if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
        const targetOpt = value('target', o.target);
        if (targetOpt !== undefined && pathArg !== undefined && targetOpt !== pathArg) throw new UsageError('give the target once (--target or a path), not both');
        const target = targetOpt ?? pathArg;
        if (!target) throw new UsageError('missing --target=PATH');

        const rulesRaw = value('rules', o.rules) ?? 'standard';
        if (rulesRaw !== 'standard' && rulesRaw !== 'strict') throw new UsageError(`--rules must be standard or strict, got "${rulesRaw}"`);
        let severities: Severity[] | undefined;
        const sevRaw = value('severity', o.severity);
        if (sevRaw !== undefined) {
          try {
            severities = parseSeverities(sevRaw);
          } catch (e) {
            throw new UsageError(`--severity: ${(e as Error).message}`);
          }
        }
        const fmtRaw = value('format', o.format);
        if (fmtRaw !== undefined && o.json && fmtRaw !== 'json') throw new UsageError(`--json conflicts with --format=${fmtRaw}`);
        const format = (fmtRaw ?? (o.json ? 'json' : 'text')) as ReportFormat;
        if (!['text', 'json', 'sarif'].includes(format)) throw new UsageError(`--format must be text, json or sarif, got "${format}"`);
        const output = value('output', o.output);

        // The deployment's state dir is checked even when it lies outside the target: --state-dir,
        // CLAWGUARD_STATE_DIR, or the gateway's default ~/.clawguard when it exists (a .clawguard
        // inside the target is found by the scan itself).
        const g = cmd.optsWithGlobals<{ stateDir?: string }>();
        const stateDir = g.stateDir || process.env.CLAWGUARD_STATE_DIR || (existsSync(defaultStateDir()) ? defaultStateDir() : undefined);
        const report = await scan({
          target,
          rules: rulesRaw as RuleSet,
          ...(severities ? { severities } : {}),
          fix: o.fix === true,
          env: process.env,
          ...(stateDir ? { stateDirs: [stateDir] } : {}),
        });
        const text = formatReport(report, format);
        // `... | head` closing the pipe early is not an error worth a stack trace.
        process.stdout.once('error', (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EPIPE') throw e;
        });
        if (output) {
          await writeFile(output, text, { mode: 0o600 });
          process.stderr.write(`security-scan: ${report.summary.total} finding(s) written to ${output}\n`);
        } else {
          process.stdout.write(text);
        }
        process.exitCode = exitCodeOf(report);
      } catch (e) {
        if (e instanceof UsageError || (isClawguardError(e) && e.code === 'bad_request')) {
          process.stderr.write(`security-scan: ${(e as Error).message}\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
    });
}
