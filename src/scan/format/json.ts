/** Machine-readable report: { summary, findings: [{ checkId, severity, title, detail, remediation, file, line, ... }] }. */
import type { ScanReport } from '../types.js';

export function formatJson(report: ScanReport): string {
  const findings = report.findings.map((f) => ({
    checkId: f.checkId,
    severity: f.severity,
    title: f.title,
    detail: f.detail,
    remediation: f.remediation,
    file: f.file,
    line: f.line,
    ...(f.openclawSeverity ? { openclawSeverity: f.openclawSeverity } : {}),
    ...(f.secret ? { secret: f.secret } : {}),
    ...(f.fixable ? { fixable: true } : {}),
  }));
  return `${JSON.stringify({ summary: report.summary, findings }, null, 2)}\n`;
}
