/** Running the real `clawguard` bin as a child, with a HOME of the test's own so nothing touches the real ~/.clawguard. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir, waitFor } from '../helpers/gateway.js';

export const BIN = resolve('bin/clawguard.js');

/** The outer environment without CLAWGUARD_* locations, with HOME set: the child's ~/.clawguard is `home`/.clawguard. */
export function childEnv(home: string, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^CLAWGUARD_(STATE_DIR|CONFIG|URL|TOKEN)$/.test(k)));
  return { ...base, HOME: home, ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion. HOME is `home`, else the cwd (so a test's dir/.clawguard is the default state dir). */
export function cli(args: string[], opts: { cwd?: string; home?: string; env?: Record<string, string>; input?: string } = {}): CliResult {
  const cwd = opts.cwd ?? tempDir();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, env: childEnv(opts.home ?? cwd, opts.env), input: opts.input ?? '', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `clawguard start --port 0` in `dir`, resolved once the state dir's gateway.json appears. */
/** `outputText()`: what it wrote so far, stderr and its log (stdout) together. */
export async function startGatewayProcess(dir: string, opts: { home?: string; args?: string[]; stateDir?: string; env?: Record<string, string> } = {}): Promise<ChildProcess & { outputText(): string }> {
  const stateDir = opts.stateDir ?? join(opts.home ?? dir, '.clawguard');
  const child = spawn(process.execPath, [BIN, ...(opts.args ?? []), 'start', '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(opts.home ?? dir, { CLAWGUARD_LOG_LEVEL: 'warn', ...opts.env }) });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (err += d));
  await waitFor(() => existsSync(join(stateDir, 'gateway.json')) || child.exitCode !== null, 20_000);
  assert.equal(child.exitCode, null, err);
  return Object.assign(child, { outputText: () => err });
}

/** SIGTERM and wait for the exit. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  await exited;
}

/** As `cli`, without blocking this process's event loop (for a server the test itself runs). */
export function cliAsync(args: string[], opts: { cwd?: string; home?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const cwd = opts.cwd ?? tempDir();
  return new Promise((done) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd, env: childEnv(opts.home ?? cwd, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A run that ended without a stack trace in its output (the CLI prints one line per problem). */
export function assertNoStack(r: CliResult, what: string): void {
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `${what}: stack trace in ${r.stderr}`);
}
