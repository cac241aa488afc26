/** The state directory: database, keys, tokens. Created 0700; secret files 0600. */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClawguardError } from '../errors/index.js';

/** `~/.clawguard`: one per user, whatever directory a command (or OpenClaw's resolver) starts in. */
export function defaultStateDir(home: string = homedir()): string {
  return join(home, '.clawguard');
}

/**
 * Where the state lives: --state-dir, then CLAWGUARD_STATE_DIR, then ~/.clawguard. Not the cwd:
 * a process started elsewhere would otherwise silently create a new, empty database there.
 */
export function resolveStateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home: string = homedir()): string {
  const given = explicit || env.CLAWGUARD_STATE_DIR;
  return given ? resolve(cwd, given) : defaultStateDir(home);
}

/** The files of a state dir that hold a secret: readable by the owner only (0600). */
export function stateDirKeyFiles(dir: string): string[] {
  const fixed = ['operator.token', 'audit-signing.key', 'secrets-master.key', 'secrets-master.key.kms', 'identity-token-key.pem', 'tls-key.pem'].map((f) => join(dir, f));
  const agentKeys = join(dir, 'agent-keys');
  let agents: string[] = [];
  try {
    agents = readdirSync(agentKeys).filter((f) => f.endsWith('.key')).map((f) => join(agentKeys, f));
  } catch {
    /* no agent keys kept here */
  }
  return [...fixed, ...agents];
}

const octal = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`;

/**
 * What is wrong with a state dir's permissions. A directory that group or others can write, or a
 * key file that group or others can read or write, is refused rather than quietly tightened: the
 * key may already have been copied (or the file replaced), which only the operator can judge, and
 * a silent chmod would hide it. A directory that is only readable by others is tightened to 0700
 * (nothing in it is exposed by its listing alone) and reported as a warning.
 */
export function checkStateDir(dir: string): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (process.platform === 'win32' || !existsSync(dir)) return { errors, warnings };
  const d = statSync(dir).mode & 0o777;
  if ((d & 0o022) !== 0) errors.push(`the state dir ${dir} is writable by ${d & 0o002 ? 'others' : 'its group'} (mode ${octal(d)}): someone else may have replaced its keys or database; check its contents, then chmod 700 ${dir}`);
  else if ((d & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    warnings.push(`the state dir ${dir} was accessible to group or others (mode ${octal(d)}); set to 0700`);
  }
  for (const f of stateDirKeyFiles(dir)) {
    let st;
    try {
      st = lstatSync(f);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      errors.push(`${f} is a symbolic link: key files in the state dir must be plain files`);
      continue;
    }
    const m = st.mode & 0o777;
    if ((m & 0o077) !== 0) {
      const how = m & 0o022 ? 'writable' : 'readable';
      errors.push(`${f} is ${how} by group or others (mode ${octal(m)}): the key may have been ${how === 'writable' ? 'replaced' : 'copied'}; check who had access, rotate it if needed, then chmod 600 ${f}`);
    }
  }
  return { errors, warnings };
}

/** Create the state dir (0700), or check an existing one; throws state_insecure listing every problem. */
export function ensureStateDir(dir: string, onWarning: (message: string) => void = () => undefined): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { errors, warnings } = checkStateDir(dir);
  if (errors.length) throw new ClawguardError('state_insecure', `refusing to use the state dir ${dir}:\n${errors.map((e) => `  ${e}`).join('\n')}`);
  for (const w of warnings) onWarning(w);
  return dir;
}

/** Write a file that only the owner may read, creating it atomically with that mode. */
export function writeSecretFile(path: string, contents: string | Buffer): void {
  writeFileSync(path, contents, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Read a secret file, or create it with `make()` on first use. A file others can read or write is refused. */
export function readOrCreateSecretFile(path: string, make: () => string): string {
  if (existsSync(path)) {
    const m = statSync(path).mode & 0o777;
    if ((m & 0o077) !== 0) throw new ClawguardError('state_insecure', `${path} is accessible to group or others (mode ${octal(m)}): the key may have been copied; check who had access, rotate it if needed, then chmod 600 ${path}`);
    return readFileSync(path, 'utf8').trim();
  }
  const v = make();
  writeSecretFile(path, `${v}\n`);
  return v;
}

export function operatorTokenPath(stateDir: string): string {
  return join(stateDir, 'operator.token');
}

export function newToken(prefix = 'cg_op_'): string {
  return prefix + randomBytes(32).toString('base64url');
}
