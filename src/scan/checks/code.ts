/**
 * Agent and skill code: the patterns that turn a prompt injection into host compromise.
 * The file's single anchor pass (secrets/scanner.ts) reports which trigger words occur; a rule
 * runs its regex over the text only when its words were seen. Comment lines are skipped so
 * that a comment warning against eval() is not itself reported, and so are lines marked
 * `clawguard:allow` (deliberate uses, test fixtures).
 */
import { finding } from '../catalog.js';
import { INLINE_ALLOW } from '../secrets/placeholders.js';
import { entropy, LineIndex, mask } from '../text.js';
import type { Finding } from '../types.js';

type Lang = 'js' | 'py' | 'sh' | 'md' | 'other';

export function langOf(name: string): Lang {
  if (/\.(?:[cm]?[jt]sx?)$/i.test(name)) return 'js';
  if (/\.py$/i.test(name)) return 'py';
  if (/\.(?:sh|bash|zsh|ksh)$/i.test(name) || name === 'Dockerfile' || /\.dockerfile$/i.test(name)) return 'sh';
  if (/\.md$/i.test(name)) return 'md';
  return 'other';
}

/** A download (something URL- or variable-shaped follows curl/wget) piped into a shell or interpreter. */
const CURL_PIPE = /(?:curl|wget)\s[^\n|;&]*?(?:https?:\/\/|ftp:\/\/|\$\{?\w)[^\n|;&]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:(?:ba|z|k|da|fi)?sh|python3?|node|perl|ruby)\b(?!\s*-m\s+json)|sh\s+(?:-c\s+)?["']?\$\(\s*(?:curl|wget)\s|sh\s+<\(\s*(?:curl|wget)\s/g;
const B64_SHELL = /base64\s+(?:-d|--decode|-D)\b[^\n]*\|\s*(?:ba|z)?sh\b|sh\s+-c\s+["']?\$\([^)\n]*base64\s+(?:-d|--decode)/g;
const B64_DIRECT = /(?:eval|Function|exec|execSync|runInNewContext|runInThisContext)\s*\(\s*(?:atob|Buffer\.from|(?:base64\.)?b64decode|base64\.decodebytes)\s*\(/g;
const B64_BLOB = /["'`][A-Za-z0-9+/]{200,}={0,2}["'`]/g;
const B64_DECODE = /atob\s*\(|Buffer\.from\([^)\n]*['"]base64['"]|b64decode\s*\(|base64\.decodebytes|base64\s+(?:-d|--decode)/;
const EXEC_SINK = /eval\s*\(|new\s+Function\s*\(|exec(?:Sync)?\s*\(|vm\.run|runIn(?:New|This)?Context|\|\s*(?:ba)?sh\b/;

const JS_EVAL = /eval\s*\(/g;
const JS_NEW_FUNCTION = /new\s+Function\s*\(/g;
const JS_VM = /vm\.(?:runInNewContext|runInThisContext|runInContext|compileFunction)\s*\(|new\s+vm\.Script\s*\(/g;
const JS_SPAWN_SHELL = /(?:spawn|spawnSync|execFile|execFileSync)\s*\([^\n]*\bshell\s*:\s*true/g;
const PY_EVAL = /(?:eval|exec)\s*\(/g;
const PY_SHELL = /subprocess\.\w+\s*\([^\n]*\bshell\s*=\s*True|os\.(?:system|popen)\s*\(|commands\.getoutput\s*\(/g;

const JS_HARVEST = /JSON\.stringify\(\s*process\.env\s*[,)]|Object\.(?:entries|keys|values)\(\s*process\.env\s*\)|in\s+process\.env\s*\)/g;
/** Literal-led (fast); the context before the match is checked by pyHarvestContext. */
const PY_HARVEST = /os\.environ(?:\.(?:items|keys|values)\(\s*\)|\s*\)|\s*:)/g;
const SH_HARVEST = /(?:^|[;&|]\s*|\$\()\s*(?:printenv|env)\s*(?:\||>|\)|$)/gm;
/** Credential files addressed as paths: ~/.aws/credentials, homedir() + '/.npmrc', join(homedir(), '.ssh', 'id_rsa'). */
const CRED_READ = /(?:~|\$HOME|\$\{HOME\}|homedir\(\)\s*\+\s*['"`]|\/home\/\w+|\/root)\/\.(?:ssh\/(?:id_\w+|authorized_keys)|aws\/credentials|npmrc|netrc|pypirc|git-credentials|docker\/config\.json|kube\/config|gnupg\/(?:private-keys|secring)|config\/gcloud\/(?:credentials|application_default))|['"`]\.(?:ssh|aws|docker|kube)['"`]\s*,\s*['"`](?:id_\w+|credentials|config(?:\.json)?)['"`]|\/etc\/shadow|application_default_credentials\.json|security\s+find-(?:generic|internet)-password/g;
const NET_SINK: Record<Lang, RegExp | undefined> = {
  js: /fetch\s*\(|axios|https?\.(?:request|get)\s*\(|XMLHttpRequest|new\s+WebSocket\s*\(|net\.(?:connect|createConnection)\s*\(|dgram|got\s*\(|['"]undici['"]/g,
  py: /requests\.(?:post|put|get|patch|request)\s*\(|urllib\.request|urlopen\s*\(|http\.client|socket\.socket\s*\(|httpx\.|aiohttp|smtplib/g,
  sh: /curl\b[^\n]*(?:\s-d\b|--data|\s-F\b|--form|\s-T\b|--upload-file|-X\s*POST)|\bnc\s+-?\w*\s*\S+\s+\d+|wget\b[^\n]*--post|\/dev\/tcp\//g,
  md: undefined,
  other: undefined,
};

interface LineHit {
  line: number;
  text: string;
  /** Offset of the match in the text. */
  at: number;
}

function isCommentLine(line: string, lang: Lang): boolean {
  const t = line.trimStart();
  if (lang === 'js') return t.startsWith('//') || t.startsWith('*') || t.startsWith('/*');
  if (lang === 'py' || lang === 'sh') return t.startsWith('#') && !t.startsWith('#!');
  return false;
}

export function checkCode(text: string, file: string, name: string, words: ReadonlySet<string>): Finding[] {
  const lang = langOf(name);
  const out: Finding[] = [];
  const seen = (...w: string[]) => w.some((x) => words.has(x));
  const lines = new LineIndex(text);
  /** Matches of a global regex, one per line, outside comments; `accept` can veto by context. */
  const find = (re: RegExp, max = 10, accept?: (at: number) => boolean): LineHit[] => {
    const hits: LineHit[] = [];
    const done = new Set<number>();
    re.lastIndex = 0;
    for (let m = re.exec(text); m && hits.length < max; m = re.exec(text)) {
      if (m[0].length === 0) re.lastIndex++;
      if (accept && !accept(m.index)) continue;
      const line = lines.line(m.index);
      if (done.has(line)) continue;
      const lt = lines.lineText(m.index);
      if (lt.length > 4000 || isCommentLine(lt, lang) || INLINE_ALLOW.test(lt)) continue; // minified bundles: no useful location
      done.add(line);
      hits.push({ line, text: lt, at: m.index });
    }
    return hits;
  };
  const add = (id: string, line: number, detail: string, severity?: Finding['severity']) => out.push(finding(id, { file, line, detail, ...(severity ? { severity } : {}) }));
  const snippet = (s: string) => {
    // Long random-looking tokens in quoted code are masked even when no secret rule named them.
    const t = Buffer.from(s, 'latin1')
      .toString('utf8')
      .trim()
      .replace(/[A-Za-z0-9+/_=-]{20,}/g, (tok) => (entropy(tok) >= 3.5 && /\d/.test(tok) ? mask(tok) : tok));
    return t.length > 100 ? `${t.slice(0, 97)}...` : t;
  };
  const notMember = (at: number) => at === 0 || !/[\w$.]/.test(text[at - 1]!);

  if (seen('curl', 'wget')) for (const h of find(CURL_PIPE, 5)) add('code.exec.curl_pipe_shell', h.line, `Runs a downloaded script: ${snippet(h.text)}`);

  // Encoded payloads that are decoded and run.
  const b64Lines = new Set<number>();
  if (seen('base64', 'atob', 'b64decode')) {
    for (const h of [...find(B64_SHELL, 5), ...find(B64_DIRECT, 5)]) {
      b64Lines.add(h.line);
      add('code.obfuscation.base64_exec', h.line, `Decodes base64 and executes it: ${snippet(h.text)}`);
    }
    if (b64Lines.size === 0 && B64_DECODE.test(text) && EXEC_SINK.test(text)) {
      const blob = find(B64_BLOB, 1)[0];
      if (blob) add('code.obfuscation.base64_exec', blob.line, 'A long base64 literal is decoded in a file that also evaluates code or runs a shell.');
    }
  }
  if (lang === 'md' || lang === 'other') return out;

  // Shell strings and dynamic code.
  if (lang === 'js') {
    if (seen('child_process')) {
      const cp = childProcessCallRe(text);
      if (cp) {
        for (const h of find(cp, 10)) {
          const first = /\(\s*(.)/.exec(text.slice(h.at, h.at + 200))?.[1] ?? '';
          const call = text.slice(h.at, text.indexOf('\n', h.at) === -1 ? text.length : text.indexOf('\n', h.at));
          const constant = (first === "'" || first === '"' || first === '`') && !/\$\{|['"`]\s*\+/.test(call);
          add('code.exec.shell_string', h.line, `${constant ? 'Runs a fixed command through a shell' : 'Runs a command built at runtime through a shell'}: ${snippet(h.text)}`, constant ? 'medium' : 'high');
        }
      }
      for (const h of find(JS_SPAWN_SHELL, 10)) add('code.exec.shell_string', h.line, `Spawns with shell: true: ${snippet(h.text)}`);
    }
    if (seen('eval')) for (const h of find(JS_EVAL, 10, notMember)) if (!b64Lines.has(h.line)) add('code.dynamic.eval', h.line, `Evaluates code built at runtime: ${snippet(h.text)}`);
    if (seen('new function')) for (const h of find(JS_NEW_FUNCTION, 10)) if (!b64Lines.has(h.line)) add('code.dynamic.eval', h.line, `Builds a function from a string: ${snippet(h.text)}`);
    if (seen('vm.')) for (const h of find(JS_VM, 10)) add('code.dynamic.eval', h.line, `Runs code from a string: ${snippet(h.text)}`, 'medium');
  } else if (lang === 'py') {
    if (seen('subprocess', 'popen', 'system(')) for (const h of find(PY_SHELL, 10)) add('code.exec.shell_string', h.line, `Runs a command through a shell: ${snippet(h.text)}`);
    if (seen('eval', 'exec')) for (const h of find(PY_EVAL, 10, notMember)) if (!b64Lines.has(h.line)) add('code.dynamic.eval', h.line, `Evaluates code built at runtime: ${snippet(h.text)}`);
  }

  // Credential collection, and exfiltration when the same file also talks to the network.
  const harvest =
    lang === 'js' && seen('process.env)', 'process.env,') ? find(JS_HARVEST, 5)
    : lang === 'py' && seen('os.environ') ? find(PY_HARVEST, 5, (at) => pyHarvestContext(text, at))
    : lang === 'sh' ? find(SH_HARVEST, 5)
    : [];
  const creds = seen('.ssh', '.aws', '.npmrc', '.netrc', '.pypirc', '.git-credentials', '.kube', '.docker', 'gnupg', 'gcloud', '/etc/shadow', 'find-generic-password', 'find-internet-password') ? find(CRED_READ, 5) : []; // clawguard:allow (the list of words this rule looks for)
  const sinkRe = NET_SINK[lang];
  const sink = sinkRe && (harvest.length > 0 || creds.length > 0) ? find(sinkRe, 1)[0] : undefined;
  if (sink) {
    const src = [...harvest, ...creds].sort((a, b) => a.line - b.line)[0]!;
    add('code.exfil.credentials', src.line, `Collects credentials (line ${src.line}: ${snippet(src.text)}) and sends data out (line ${sink.line}: ${snippet(sink.text)}).`);
  } else {
    for (const h of harvest) add('code.env.harvest', h.line, `Collects the whole environment: ${snippet(h.text)}`);
    for (const h of creds) add('code.secrets.credential_read', h.line, `References a credential store: ${snippet(h.text)}`);
  }
  return out;
}

/** os.environ.items()/keys()/values() always; os.environ) only inside dict(/json.dumps(/list(; os.environ: only after "for x in". */
function pyHarvestContext(text: string, at: number): boolean {
  const m = /^os\.environ(\.\w+\(\s*\)|\s*\)|\s*:)/.exec(text.slice(at, at + 40));
  if (!m) return false;
  if (m[1]!.startsWith('.')) return true;
  const before = text.slice(Math.max(0, text.lastIndexOf('\n', at) + 1), at);
  return m[1]!.trim() === ')' ? /(?:dict|json\.dumps|list|str|repr|print)\(\s*$/.test(before) : /\bfor\s+\w+(?:\s*,\s*\w+)?\s+in\s+$/.test(before);
}

/** Calls of child_process' shell-running functions in a JS file: cp.exec(...) via a namespace, or exec/execSync imported by name. */
function childProcessCallRe(text: string): RegExp | undefined {
  const ns = new Set<string>();
  for (const m of text.matchAll(/(?:const|let|var)\s+(\w+)\s*=\s*require\(\s*['"](?:node:)?child_process['"]\s*\)|import\s+(?:\*\s+as\s+)?(\w+)\s+from\s+['"](?:node:)?child_process['"]/g)) ns.add((m[1] ?? m[2])!);
  const direct = new Set<string>();
  for (const m of text.matchAll(/(?:const|let|var|import)\s*\{([^}]*)\}\s*(?:=\s*require\(\s*['"](?:node:)?child_process['"]\s*\)|from\s+['"](?:node:)?child_process['"])/g)) {
    for (const part of m[1]!.split(',')) {
      const [orig, alias] = part.split(/\s+as\s+|\s*:\s*/).map((s) => s.trim());
      if (orig === 'exec' || orig === 'execSync') direct.add(alias || orig);
    }
  }
  const alts: string[] = [`require\\(\\s*['"](?:node:)?child_process['"]\\s*\\)\\.exec(?:Sync)?`];
  if (ns.size > 0) alts.push(`\\b(?:${[...ns].join('|')})\\.exec(?:Sync)?`);
  if (direct.size > 0) alts.push(`(?<![\\w$.])(?:${[...direct].join('|')})`);
  return new RegExp(`(?:${alts.join('|')})\\s*\\(`, 'g');
}
