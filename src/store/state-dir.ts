/** The state directory: database, keys, tokens. Created 0700; secret files 0600. */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

export function resolveStateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return resolve(cwd, explicit ?? env.CLAWGUARD_STATE_DIR ?? '.clawguard');
}

export function ensureStateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is masked by umask and does nothing for an existing dir; enforce it.
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

/** Write a file that only the owner may read, creating it atomically with that mode. */
export function writeSecretFile(path: string, contents: string | Buffer): void {
  writeFileSync(path, contents, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Read a secret file, or create it with `make()` on first use. */
export function readOrCreateSecretFile(path: string, make: () => string): string {
  if (existsSync(path)) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
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
