/**
 * `security-scan`: finds insecure agent deployments before they run — clawguard and OpenClaw
 * configs, agent and skill code, secrets in any text file, and file permissions.
 * This file is the module's only public face.
 */
import { allChecks } from './catalog.js';
import { DEFAULT_SEVERITIES, runScan } from './engine.js';
import { formatJson } from './format/json.js';
import { formatSarif } from './format/sarif.js';
import { formatText } from './format/text.js';
import { SEVERITIES, type ReportFormat, type ScanOptions, type ScanReport, type Severity } from './types.js';

export type {
  CheckFamily,
  CheckMeta,
  FileKind,
  Finding,
  FixApplied,
  OpenClawSeverity,
  ReportFormat,
  RuleSet,
  ScanOptions,
  ScanReport,
  ScanSummary,
  Severity,
} from './types.js';
export { SEVERITIES, DEFAULT_SEVERITIES };
export { SARIF_SCHEMA } from './format/sarif.js';
export { scanSecrets, type SecretHit } from './secrets/scanner.js';
export { SECRET_RULES, type SecretFamily } from './secrets/rules.js';

/** Scan `options.target` and return every finding at the selected severities. */
export function scan(options: ScanOptions): Promise<ScanReport> {
  return runScan(options);
}

export function formatReport(report: ScanReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return formatJson(report);
    case 'sarif':
      return formatSarif(report);
    default:
      return formatText(report);
  }
}

/** Exit code for a finished scan: 1 when a finding at the selected severities remains. */
export function exitCodeOf(report: ScanReport): 0 | 1 {
  return report.summary.total > 0 ? 1 : 0;
}

/** "critical,high" → severities; OpenClaw's "warn" is accepted for medium. Throws on anything else. */
export function parseSeverities(list: string): Severity[] {
  const out = new Set<Severity>();
  for (const raw of list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const s = raw === 'warn' || raw === 'warning' ? 'medium' : raw === 'all' ? undefined : raw;
    if (raw === 'all') SEVERITIES.forEach((x) => out.add(x));
    else if (s && (SEVERITIES as readonly string[]).includes(s)) out.add(s as Severity);
    else throw new Error(`unknown severity "${raw}" (expected ${SEVERITIES.join(', ')})`);
  }
  if (out.size === 0) throw new Error(`no severity given (expected ${SEVERITIES.join(', ')})`);
  return [...out];
}

/** Every check the scanner knows, for documentation and SARIF. */
export function listChecks() {
  return allChecks();
}
