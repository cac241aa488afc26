/** Human-readable report: one table per file, then a summary line. */
import type { Finding, ScanReport, Severity } from '../types.js';

const LABEL: Record<Severity, string> = { critical: 'CRITICAL', high: 'HIGH', medium: 'MEDIUM', low: 'LOW', info: 'INFO' };

function wrap(text: string, width: number, indent: string): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(indent + cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(indent + cur);
  return lines;
}

export function formatText(report: ScanReport): string {
  const { summary: s, findings } = report;
  const out: string[] = [];
  out.push(`clawguard security-scan ${s.target} (rules: ${s.rules}; severities: ${s.severities.join(',')})`);
  const byFile = new Map<string, Finding[]>();
  for (const f of findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  const idWidth = Math.min(48, Math.max(8, ...findings.map((f) => f.checkId.length)));
  for (const [file, list] of byFile) {
    out.push('', file);
    out.push(`  ${'SEVERITY'.padEnd(9)}${'LINE'.padStart(5)}  ${'CHECK'.padEnd(idWidth)}  TITLE`);
    for (const f of list) {
      out.push(`  ${LABEL[f.severity].padEnd(9)}${(f.line > 0 ? String(f.line) : '-').padStart(5)}  ${f.checkId.padEnd(idWidth)}  ${f.title}`);
      const pad = ' '.repeat(18);
      out.push(...wrap(f.detail, 100, pad));
      out.push(...wrap(`fix: ${f.remediation}`, 100, pad));
    }
  }
  const counts = (Object.entries(s.bySeverity) as Array<[Severity, number]>).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  out.push('');
  if (s.fixed.length > 0) {
    out.push(`Fixed permissions on ${s.fixed.length} path(s):`);
    for (const f of s.fixed) out.push(`  ${f.file}: ${f.from} -> ${f.to}`);
  }
  for (const e of s.errors) out.push(`warning: ${e.file}: ${e.message}`);
  out.push(
    s.total === 0
      ? `No findings at ${s.severities.join(',')}. ${s.filesScanned} file(s) scanned in ${s.durationMs} ms.`
      : `${s.total} finding(s) (${counts.join(', ')}) in ${byFile.size} file(s); ${s.filesScanned} file(s) scanned in ${s.durationMs} ms.`,
  );
  return `${out.join('\n')}\n`;
}
