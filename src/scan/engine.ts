/** Orchestration: walk, scan every file (in worker threads for big trees), fix, filter, summarise. */
import { availableParallelism, loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { resolve, relative, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ClawguardError } from '../errors/index.js';
import { checkPermissions, type PermFix } from './checks/permissions.js';
import { applyFixes } from './fixer.js';
import { Scratch, scanFileSync, type FileScanContext, type FileScanResult } from './file-scan.js';
import { SEVERITIES, type Finding, type ScanOptions, type ScanReport, type Severity } from './types.js';
import { DEFAULT_SKIP_DIRS, walk, type FileEntry } from './walker.js';

export const DEFAULT_SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];
const DEFAULT_MAX_FILE = 5 * 1024 * 1024;
/** Below this many files, starting threads costs more than it saves. */
const WORKER_MIN_FILES = 1500;

/**
 * Threads to scan with: the idle cores (cores minus the 1-minute load average), at most 4. On a
 * busy machine extra threads only queue behind other work, and their start-up is wasted.
 */
function defaultThreads(): number {
  const cores = availableParallelism();
  const busy = process.platform === 'win32' ? 0 : Math.floor(loadavg()[0] ?? 0);
  return Math.max(1, Math.min(4, cores - busy));
}

/** Only the variables the checks read travel to worker threads (never the whole environment). */
function pickEnv(env: ScanOptions['env']): Record<string, string | undefined> {
  const keep = ['OPENCLAW_GATEWAY_TOKEN', 'OPENCLAW_GATEWAY_PASSWORD'];
  return Object.fromEntries(keep.filter((k) => env?.[k] !== undefined).map((k) => [k, env![k]]));
}

const SEV_RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

const BATCH = 64;

/**
 * Scanning with threads: the main thread scans too (it needs no start-up), and `workers` worker
 * threads take batches as they finish, two in flight each so they never wait for the main
 * thread, which is busy between its own batches.
 */
class ScanPool {
  private readonly workers: Worker[];
  private readonly ready: Array<Promise<void>>;

  constructor(workers: number, private readonly ctx: FileScanContext) {
    const url = new URL('./worker.js', import.meta.url);
    this.workers = Array.from({ length: workers }, () => new Worker(url, { workerData: { ctx } }));
    this.ready = this.workers.map((w) => new Promise<void>((res, rej) => {
      w.once('message', () => res());
      w.once('error', rej);
    }));
  }

  async run(files: FileEntry[]): Promise<FileScanResult[]> {
    const results = new Array<FileScanResult>(files.length);
    let next = 0;
    const take = (): [number, number] | undefined => {
      if (next >= files.length) return undefined;
      const from = next;
      next = Math.min(files.length, next + BATCH);
      return [from, next];
    };
    const workerDone = this.workers.map(
      (w, i) =>
        new Promise<void>((resolveP, reject) => {
          let inFlight = 0;
          const send = () => {
            const b = take();
            if (!b) return false;
            inFlight++;
            w.postMessage({ id: b[0], files: files.slice(b[0], b[1]) });
            return true;
          };
          const finish = () => {
            w.off('message', onMessage);
            w.off('error', reject);
            resolveP();
          };
          const onMessage = (m: { id: number; results?: FileScanResult[] }) => {
            if (!m.results) return; // the start-up "ready" message
            m.results.forEach((r, j) => (results[m.id + j] = r));
            inFlight--;
            send();
            if (inFlight === 0) finish();
          };
          w.on('message', onMessage);
          w.on('error', reject);
          void this.ready[i]!.then(() => {
            send();
            send();
            if (inFlight === 0) finish();
          }, reject);
        }),
    );
    const scratch = new Scratch();
    for (let b = take(); b; b = take()) {
      for (let k = b[0]; k < b[1]; k++) results[k] = scanFileSync(files[k]!, this.ctx, scratch);
      await new Promise<void>((r) => setImmediate(r)); // let worker results in, so they get their next batch
    }
    await Promise.all(workerDone);
    return results;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

async function scanInProcess(files: FileEntry[], ctx: FileScanContext): Promise<FileScanResult[]> {
  const scratch = new Scratch();
  const results = new Array<FileScanResult>(files.length);
  let bytes = 0;
  for (let i = 0; i < files.length; i++) {
    results[i] = scanFileSync(files[i]!, ctx, scratch);
    bytes += results[i]!.bytes;
    // Synchronous reads are fastest; yield now and then so a host process keeps serving.
    if (i % 50 === 49 || bytes > 8 << 20) {
      bytes = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  return results;
}

export async function runScan(options: ScanOptions): Promise<ScanReport> {
  const t0 = process.hrtime.bigint();
  if (!options.target) throw new ClawguardError('bad_request', 'no target: pass --target=PATH');
  const target = resolve(options.target);
  if (!existsSync(target)) throw new ClawguardError('bad_request', `target not found: ${options.target}`);
  const rules = options.rules ?? 'standard';
  const severities = [...(options.severities ?? DEFAULT_SEVERITIES)].sort((a, b) => SEV_RANK[a] - SEV_RANK[b]);
  const st = await lstat(target);
  const isDir = st.isDirectory();
  if (!isDir && !st.isFile()) throw new ClawguardError('bad_request', `target is neither a file nor a directory: ${options.target}`);

  const ctx: FileScanContext = { rules, maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE, env: pickEnv(options.env) };
  const threads = Math.max(1, Math.min(options.threads ?? defaultThreads(), 8));
  // Threads start as soon as the walk shows a big tree, so their start-up overlaps the rest of the walk.
  let workers: ScanPool | undefined;
  let tree: Awaited<ReturnType<typeof walk>>;
  let results: FileScanResult[];
  try {
    tree = await walk(target, isDir, options.skipDirs ?? DEFAULT_SKIP_DIRS, (found) => {
      if (!workers && threads > 1 && found >= WORKER_MIN_FILES) workers = new ScanPool(threads - 1, ctx);
    });
    results = workers ? await workers.run(tree.files) : await scanInProcess(tree.files, ctx);
  } finally {
    await workers?.close();
  }

  const findings: Finding[] = [];
  const fixes: PermFix[] = [];
  const errors = [...tree.errors];
  let scanned = 0;
  let bytes = 0;
  const configs = { clawguard: 0, openclaw: 0 };
  results.forEach((r, i) => {
    findings.push(...r.findings);
    fixes.push(...r.fixes);
    if (r.scanned) scanned++;
    bytes += r.bytes;
    if (r.config === 'clawguard-config') configs.clawguard++;
    if (r.config === 'openclaw-config') configs.openclaw++;
    if (r.error) errors.push({ file: tree.files[i]!.rel, message: r.error });
  });

  // State directories: the ones inside the target, and any named explicitly (--state-dir).
  const stateDirs = new Map(tree.stateDirs.map((d) => [d.abs, d]));
  for (const extra of options.stateDirs ?? []) {
    const abs = resolve(extra);
    if (stateDirs.has(abs) || !existsSync(abs)) continue;
    const s = await lstat(abs);
    if (s.isDirectory()) stateDirs.set(abs, { abs, rel: relative(tree.root, abs).split(sep).join('/') || '.', mode: s.mode });
  }
  for (const d of stateDirs.values()) findings.push(...checkPermissions('state-dir', d.abs, d.rel, d.mode, fixes));

  const wanted = new Set(severities);
  const fixed: ScanReport['summary']['fixed'] = [];
  let remaining = findings;
  // Only repair what the chosen severities report: --severity=critical --fix leaves group-readable files alone.
  const selectedFixes = fixes.filter((x) => findings.some((f) => f.fixable && f.file === x.file && f.checkId === x.checkId && wanted.has(f.severity)));
  if (options.fix && selectedFixes.length > 0) {
    const { applied, failed } = await applyFixes(selectedFixes);
    fixed.push(...applied);
    errors.push(...failed);
    const done = new Set(applied.map((a) => a.file));
    remaining = findings.filter((f) => !(f.fixable && done.has(f.file)));
  }

  const seen = new Set<string>();
  const reported = remaining
    .filter((f) => wanted.has(f.severity))
    .filter((f) => {
      const k = `${f.file}\0${f.line}\0${f.checkId}\0${f.detail}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || SEV_RANK[a.severity] - SEV_RANK[b.severity] || (a.checkId < b.checkId ? -1 : 1)));
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of reported) bySeverity[f.severity]++;

  return {
    summary: {
      target: options.target,
      root: tree.root,
      rules,
      severities,
      filesScanned: scanned,
      filesSkipped: tree.skipped + (tree.files.length - scanned),
      bytesScanned: bytes,
      threads: workers ? threads : 1,
      durationMs: Math.round(Number(process.hrtime.bigint() - t0) / 1e5) / 10,
      total: reported.length,
      bySeverity,
      configs,
      fixed,
      errors,
    },
    findings: reported,
  };
}
