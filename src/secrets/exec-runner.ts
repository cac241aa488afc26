/**
 * Runs a resolver program without a shell: absolute path only, a minimal environment, a wall-clock
 * timeout (SIGKILL) and a cap on stdout. The request goes to stdin; stdout is returned.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { ClawguardError } from '../errors/index.js';

export interface RunOptions {
  command: string;
  args: string[];
  input: string;
  timeoutMs: number;
  maxOutputBytes: number;
  env: Record<string, string>;
  who: string;
}

/** The checks OpenClaw makes of an exec provider's command, done before anything runs. */
export function checkCommand(command: string, who: string): void {
  if (!isAbsolute(command)) throw new ClawguardError('secret_unavailable', `${who}: command must be an absolute path, got ${JSON.stringify(command)}`);
  let st;
  try {
    st = statSync(command);
  } catch (e) {
    throw new ClawguardError('secret_unavailable', `${who}: command ${command} cannot be found (${(e as NodeJS.ErrnoException).code})`);
  }
  if (!st.isFile()) throw new ClawguardError('secret_unavailable', `${who}: command ${command} is not a regular file`);
  if ((st.mode & 0o002) !== 0) throw new ClawguardError('secret_unavailable', `${who}: command ${command} is world-writable; refusing to run it`);
  try {
    accessSync(command, constants.X_OK);
  } catch {
    throw new ClawguardError('secret_unavailable', `${who}: command ${command} is not executable`);
  }
}

export function runResolver(o: RunOptions): Promise<string> {
  checkCommand(o.command, o.who);
  return new Promise((resolve, reject) => {
    const child = spawn(o.command, o.args, { shell: false, stdio: ['pipe', 'pipe', 'pipe'], env: o.env });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failed: ClawguardError | undefined;
    const fail = (e: ClawguardError) => {
      failed ??= e;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => fail(new ClawguardError('secret_unavailable', `${o.who}: resolver timed out after ${o.timeoutMs} ms and was killed`)), o.timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > o.maxOutputBytes) fail(new ClawguardError('secret_unavailable', `${o.who}: resolver output exceeded ${o.maxOutputBytes} bytes and was killed`));
      else out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 2000) err += d.toString('utf8');
    });
    child.on('error', (e) => fail(new ClawguardError('secret_unavailable', `${o.who}: cannot start ${o.command}: ${e.message}`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failed) return reject(failed);
      if (code !== 0) return reject(new ClawguardError('secret_unavailable', `${o.who}: resolver exited with ${signal ?? `code ${code}`}${err.trim() ? `: ${err.trim().split('\n')[0]!.slice(0, 200)}` : ''}`));
      resolve(Buffer.concat(out).toString('utf8'));
    });
    child.stdin.on('error', () => undefined); // a resolver that exits without reading stdin
    child.stdin.end(o.input);
  });
}
