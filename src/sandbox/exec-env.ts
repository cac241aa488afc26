/**
 * The variables an agent may set for exec.run: an allow-list (`sandbox.exec.agentEnv`), never a
 * deny-list, because the variables that make a program load other code are legion (LD_PRELOAD,
 * GCONV_PATH, BASH_ENV, NODE_OPTIONS, PYTHONSTARTUP, PERL5OPT, GIT_CONFIG_*, …). The config may not
 * put known code-loading names on the list; PATH is fixed by the sandbox.
 */
import { ClawguardError } from '../errors/index.js';

/** Names agents may set unless the config says otherwise: locale, time zone, terminal geometry. */
export const DEFAULT_AGENT_ENV: readonly string[] = ['LANG', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'LC_COLLATE', 'LC_NUMERIC', 'LC_TIME', 'TZ', 'TERM', 'NO_COLOR', 'COLUMNS', 'LINES'];

const NEVER_EXACT = new Set([
  'PATH', 'HOME', 'SHELL', 'ENV', 'BASH_ENV', 'IFS', 'CDPATH', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'GLOBIGNORE',
  'LOCPATH', 'NLSPATH', 'GCONV_PATH', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'PAGER', 'EDITOR', 'VISUAL', 'BROWSER',
  'LESSOPEN', 'LESSCLOSE', 'MANPAGER', 'MAKEFLAGS', 'MFLAGS', 'MAKEFILES', 'MAKELEVEL', 'CLASSPATH', 'TERMINFO', 'TERMINFO_DIRS', 'TERMCAP',
  'SSH_ASKPASS', 'SUDO_ASKPASS', 'CURL_HOME', 'WGETRC', 'INPUTRC', 'ZDOTDIR', 'CC', 'CXX', 'LD', 'CPP',
]);
const NEVER_PREFIX = ['LD_', 'BASH_FUNC_', 'GCONV', 'GIT_', 'NODE_', 'NPM_', 'npm_', 'YARN_', 'PYTHON', 'PIP_', 'PERL', 'RUBY', 'GEM_', 'BUNDLE_', 'LUA_', 'TCL', 'JAVA', '_JAVA', 'JDK_', 'GLIBC_', 'MALLOC_', 'OPENSSL_', 'SSL_', 'XDG_', 'DYLD_', 'NIX_', 'DENO_', 'BUN_', 'R_', 'PHP'];

/** Why a name may never be given to agents, or undefined when it may. */
export function neverAgentSettable(name: string): string | undefined {
  if (name === 'PATH') return 'the sandbox resolves commands against its own fixed PATH';
  if (NEVER_EXACT.has(name) || NEVER_PREFIX.some((p) => name.startsWith(p))) return 'it can make a program load or run other code';
  return undefined;
}

/** Locale names select files from system directories; one with a slash would name a file of the agent's. */
const LOCALE_VALUE = /^[A-Za-z0-9_.@+-]*$/;

/** Refuse any variable the agent may not set, naming it and the list it is not on. */
export function checkAgentEnv(env: Record<string, string> | undefined, allow: readonly string[]): void {
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!allow.includes(name) || neverAgentSettable(name)) {
      const why = neverAgentSettable(name);
      throw new ClawguardError('bad_request', `exec.run: environment variable ${JSON.stringify(name)} may not be set by agents${why ? ` (${why})` : ''}; allowed: ${allow.join(', ') || 'none'} (sandbox.exec.agentEnv)`);
    }
    if ((name === 'LANG' || name.startsWith('LC_')) && !LOCALE_VALUE.test(value)) {
      throw new ClawguardError('bad_request', `exec.run: environment variable ${name} must be a locale name (letters, digits, "_.@+-"), not a path`);
    }
  }
}
