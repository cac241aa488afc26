/** Types shared by every part of the scanner. */

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

/** OpenClaw's own three-level scale, kept beside ours on findings that reuse an OpenClaw check id. */
export type OpenClawSeverity = 'critical' | 'warn' | 'info';

export type RuleSet = 'standard' | 'strict';
export type ReportFormat = 'text' | 'json' | 'sarif';

/** What a file was recognised as; decides which rule families run on it. */
export type FileKind = 'clawguard-config' | 'openclaw-config' | 'code' | 'skill' | 'text';

export type CheckFamily = 'clawguard-config' | 'openclaw-config' | 'code' | 'secret' | 'permissions';

export interface Finding {
  checkId: string;
  severity: Severity;
  title: string;
  /** Never contains a whole secret: secrets appear masked (see mask.ts). */
  detail: string;
  remediation: string;
  /** Path relative to the scan root ('.' when the target itself is the file). */
  file: string;
  /** 1-based; 0 when the finding is about the file as a whole (e.g. permissions). */
  line: number;
  /** Present on findings that reuse an OpenClaw check id. */
  openclawSeverity?: OpenClawSeverity;
  /** Secret findings: the rule family (aws, openai, ...) and the masked value. */
  secret?: { family: string; masked: string };
  /** Set when --fix can (and, after a fix run, did) repair it. */
  fixable?: boolean;
}

export interface FixApplied {
  file: string;
  from: string;
  to: string;
  checkId: string;
}

export interface ScanOptions {
  /** File or directory to scan. */
  target: string;
  rules?: RuleSet;
  /** Severities that are reported and that make the scan fail. Default: critical..low. */
  severities?: readonly Severity[];
  /** Apply the permission fixes (chmod) and nothing else. */
  fix?: boolean;
  /** Files larger than this are skipped (bytes). Default 5 MiB. */
  maxFileBytes?: number;
  /** Directory names never descended into. Default: node_modules, .git, .hg, .svn. */
  skipDirs?: readonly string[];
  /** Environment consulted for settings OpenClaw reads from env (gateway token). Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** State directories to check besides those found in the target (e.g. --state-dir). */
  stateDirs?: readonly string[];
  /** Parallel scanning threads for large trees; 1 = in-process only. Default: min(cpus, 4). */
  threads?: number;
}

export interface ScanSummary {
  target: string;
  /** Absolute directory that finding paths are relative to. */
  root: string;
  rules: RuleSet;
  severities: Severity[];
  filesScanned: number;
  filesSkipped: number;
  bytesScanned: number;
  /** Scanning threads used (main thread included). */
  threads: number;
  durationMs: number;
  total: number;
  bySeverity: Record<Severity, number>;
  /** Files recognised as configs, by kind. */
  configs: { clawguard: number; openclaw: number };
  fixed: FixApplied[];
  /** Files that could not be read or parsed (the scan still completes). */
  errors: Array<{ file: string; message: string }>;
}

export interface ScanReport {
  summary: ScanSummary;
  findings: Finding[];
}

/** Static description of a check, used for SARIF rules and documentation. */
export interface CheckMeta {
  id: string;
  family: CheckFamily;
  severity: Severity;
  title: string;
  description: string;
  remediation: string;
  /** Only with --rules=strict. */
  strictOnly?: boolean;
  openclawSeverity?: OpenClawSeverity;
}
