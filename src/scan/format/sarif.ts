/**
 * SARIF 2.1.0 for code-scanning upload (GitHub, GitLab, Azure DevOps). Rules carry the
 * `security-severity` property GitHub uses to rank security alerts; results point at files
 * relative to %SRCROOT% (the scan root).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { allChecks, checkMeta } from '../catalog.js';
import type { CheckMeta, ScanReport, Severity } from '../types.js';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
/** The package version, read once from the nearest package.json above this module. */
const TOOL_VERSION = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'clawguard' && pkg.version) return pkg.version;
    } catch {
      /* keep looking upwards */
    }
    dir = dirname(dir);
  }
  return '0.0.0';
})();

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };
/** GitHub maps >= 9.0 to critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

interface SarifRule {
  id: string;
  name: string;
  shortDescription: { text: string };
  fullDescription: { text: string };
  help: { text: string };
  defaultConfiguration: { level: 'error' | 'warning' | 'note' };
  properties: Record<string, unknown>;
}

function ruleOf(id: string, meta: CheckMeta): SarifRule {
  return {
    id,
    name: id.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')),
    shortDescription: { text: meta.title },
    fullDescription: { text: meta.description },
    help: { text: meta.remediation },
    defaultConfiguration: { level: LEVEL[meta.severity] },
    properties: {
      tags: ['security', meta.family],
      'security-severity': SECURITY_SEVERITY[meta.severity],
      precision: meta.family === 'secret' || meta.family === 'permissions' || meta.family.endsWith('config') ? 'high' : 'medium',
      ...(meta.openclawSeverity ? { 'openclaw-severity': meta.openclawSeverity } : {}),
      ...(meta.strictOnly ? { 'clawguard-rules': 'strict' } : {}),
    },
  };
}

export function formatSarif(report: ScanReport): string {
  const rules: SarifRule[] = [];
  const index = new Map<string, number>();
  const addRule = (id: string) => {
    if (index.has(id)) return;
    const meta = checkMeta(id);
    if (!meta) return;
    index.set(id, rules.length);
    rules.push(ruleOf(id, meta));
  };
  for (const c of allChecks()) if (c.id !== 'tools.elevated.allowFrom.wildcard') addRule(c.id);
  for (const f of report.findings) addRule(f.checkId);

  const results = report.findings.map((f) => ({
    ruleId: f.checkId,
    ruleIndex: index.get(f.checkId) ?? -1,
    level: LEVEL[f.severity],
    message: { text: `${f.title}: ${f.detail}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: encodeURI(f.file), uriBaseId: '%SRCROOT%' },
          region: { startLine: Math.max(1, f.line) },
        },
      },
    ],
    partialFingerprints: {
      'clawguardFinding/v1': createHash('sha256').update(`${f.checkId}\0${f.file}\0${f.detail}`).digest('hex').slice(0, 32),
    },
    properties: {
      severity: f.severity,
      'security-severity': SECURITY_SEVERITY[f.severity],
      ...(f.openclawSeverity ? { 'openclaw-severity': f.openclawSeverity } : {}),
    },
  }));

  const root = pathToFileURL(report.summary.root).href.replace(/\/?$/, '/');
  const sarif = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'clawguard',
            fullName: 'clawguard security-scan',
            version: TOOL_VERSION,
            semanticVersion: TOOL_VERSION,
            rules,
          },
        },
        originalUriBaseIds: { '%SRCROOT%': { uri: root } },
        columnKind: 'utf16CodeUnits',
        results,
        invocations: [{ executionSuccessful: true, toolExecutionNotifications: report.summary.errors.map((e) => ({ level: 'warning', message: { text: `${e.file}: ${e.message}` } })) }],
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
