/**
 * `clawguard secrets`: set (value from stdin, never argv), list, rotate, and resolve — an OpenClaw
 * exec-protocol-v1 resolver on stdin/stdout. list and rotate ask the running gateway when there is
 * one, else work on the state dir directly; set and resolve always work on the state dir.
 */
import { appendFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { SecretConfig } from '../../config/index.js';
import { ClawguardError, errorShape } from '../../errors/index.js';
import type { AuditEventInput, AuditSink, Door, Principal } from '../../pipeline/index.js';
import type { RotationResult, SecretsBroker, SecretsStatus, SecretStatus } from '../../secrets/index.js';
import { defaultDbFile, ensureStateDir, openStore } from '../../store/index.js';
import { api, existingStateDir, explicitUrl, type GlobalOpts, loadConfig, ok, print, stateDirOf } from '../context.js';

const MAX_STDIN = 1024 * 1024;

/**
 * Appends audit events as JSON lines to <state-dir>/secrets-audit.jsonl (0600) when the CLI acts
 * without a gateway. Values never appear in them.
 */
class FileAuditSink implements AuditSink {
  constructor(private readonly file: string) {}
  async record(event: AuditEventInput): Promise<void> {
    const fresh = !existsSync(this.file);
    appendFileSync(this.file, `${JSON.stringify({ time: new Date().toISOString(), door: 'cli' satisfies Door, ...event })}\n`, { mode: 0o600 });
    if (fresh) chmodSync(this.file, 0o600);
  }
}

/** `readOnly`: work only on a state dir and database that already exist (never create them). */
async function withBroker<T>(g: GlobalOpts, fn: (b: SecretsBroker, secrets: Record<string, SecretConfig>) => Promise<T>, opts: { readOnly?: boolean } = {}): Promise<T> {
  const { SecretsBroker, configGrantAuthorizer } = await import('../../secrets/index.js');
  const config = loadConfig(g);
  if (opts.readOnly) {
    const dir = existingStateDir(g);
    if (!existsSync(defaultDbFile(dir))) throw new ClawguardError('not_found', `no clawguard database in ${dir} (no secret has been stored and no gateway has run with it)`);
  }
  const stateDir = ensureStateDir(stateDirOf(g));
  const store = openStore(stateDir);
  const broker = new SecretsBroker({ secrets: config.secrets, db: store.db, stateDir, audit: new FileAuditSink(join(stateDir, 'secrets-audit.jsonl')), authorize: configGrantAuthorizer(config.secrets) });
  try {
    return await fn(broker, config.secrets);
  } finally {
    broker.stop();
    store.close();
  }
}

/**
 * The gateway's answer, or undefined when no gateway is running (then the CLI works locally). A
 * gateway named with --url / CLAWGUARD_URL that does not answer is an error, not a reason to go local.
 */
async function viaGateway(g: GlobalOpts, method: 'GET' | 'POST', path: string): Promise<unknown> {
  let r;
  try {
    r = await api(g, method, path);
  } catch (e) {
    if (e instanceof ClawguardError && e.code === 'unavailable' && !explicitUrl(g)) return undefined;
    throw e;
  }
  return ok(r);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_STDIN) throw new ClawguardError('bad_request', `stdin is larger than ${MAX_STDIN} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal without echoing it. */
function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new ClawguardError('bad_request', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function resultLine(r: RotationResult): string {
  if (!r.changed) return `${r.secret}: ${r.mode} — unchanged (version ${r.version ?? '-'})`;
  return `${r.secret}: ${r.mode} — version ${r.previousVersion ?? '-'} → ${r.version ?? '-'}${r.graceUntil ? `; the previous value stays valid until ${when(r.graceUntil)}` : ''}`;
}

/** The table `clawguard status --secrets` and `clawguard secrets list` print. */
export function renderSecretsTable(s: SecretsStatus): string {
  if (s.secrets.length === 0) return '(no secrets configured)';
  const rows = s.secrets.map((x: SecretStatus) => [
    x.name,
    x.sourceSpelling,
    x.health === 'ok' ? 'ok' : x.health === 'unknown' ? 'unknown' : 'UNAVAILABLE',
    x.rotation ?? '-',
    x.version ?? '-',
    when(x.lastRotation),
    when(x.nextRotation),
    x.overdue ? 'OVERDUE' : 'no',
    String(x.uses24h),
    x.grants.join(',') || '-',
    String(x.exposures),
  ]);
  const head = ['SECRET', 'SOURCE', 'HEALTH', 'ROTATION', 'VERSION', 'LAST ROTATION', 'NEXT ROTATION', 'OVERDUE', 'USES 24H', 'GRANTS', 'EXPOSURES'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [fmt(head), ...rows.map(fmt)];
  for (const x of s.secrets) {
    if (x.reason) lines.push(`${x.name}: ${x.reason}`);
    if (x.lastRotationError) lines.push(`${x.name}: last rotation failed: ${x.lastRotationError}`);
  }
  lines.push(`master key: ${s.masterKey.source}${s.masterKey.available ? '' : ` (${s.masterKey.reason ?? 'not loaded'})`}`);
  return lines.join('\n');
}

/** `secrets list` without a gateway: reads the state dir, creating nothing; no secrets configured is the truth to say. */
async function listLocally(g: GlobalOpts): Promise<SecretsStatus> {
  const configured = Object.keys(loadConfig(g).secrets).length;
  if (!configured) return { secrets: [], masterKey: { source: 'none', available: false, reason: 'no secrets configured' }, redaction: { patterns: 0, secretsKnown: 0 } };
  return withBroker(g, async (b) => b.status(), { readOnly: true });
}

export function registerSecretsCommands(program: Command): void {
  const secrets = program.command('secrets').description('external secrets: set, list, rotate; resolve for OpenClaw (exec protocol v1)');

  secrets
    .command('set')
    .argument('<name>', 'a secret with source "local" in the config')
    .option('--json', 'machine-readable output')
    .description('store a new value for a local secret, read from stdin (never from the command line)')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      let value = process.stdin.isTTY ? await readHidden(`value for ${name} (not echoed): `) : await readStdin();
      value = value.replace(/\r?\n$/, '');
      if (!value) throw new ClawguardError('bad_request', `secrets set ${name}: no value on stdin (pipe it in: clawguard secrets set ${name} < file)`);
      const r = await withBroker(g, (b) => b.set(name, value, 'cli'));
      print(!!o.json, r, () => `stored ${resultLine(r)}`);
    });

  secrets
    .command('list')
    .option('--json', 'machine-readable output')
    .description('configured secrets with source, health, rotation and grants (never values)')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const s = ((await viaGateway(g, 'GET', '/v1/secrets')) as SecretsStatus | undefined) ?? (await listLocally(g));
      print(!!o.json, s.secrets, () => renderSecretsTable(s));
    });

  secrets
    .command('rotate')
    .argument('<name>')
    .option('--json', 'machine-readable output')
    .description('rotate a secret now (generate, write a new version, RotateSecret, or re-read)')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const r = ((await viaGateway(g, 'POST', `/v1/secrets/${encodeURIComponent(name)}/rotate`)) as RotationResult | undefined) ?? (await withBroker(g, (b) => b.rotate(name, 'cli')));
      print(!!o.json, r, () => resultLine(r));
    });

  secrets
    .command('resolve')
    .requiredOption('--agent <id>', 'the agent asking (matched against secrets.<name>.agents)')
    .description('OpenClaw exec resolver: reads {"protocolVersion":1,"ids":[…]} on stdin, writes values and per-id errors on stdout')
    .action(async (o: { agent: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const { parseRequest, formatResponse } = await import('../../secrets/index.js');
      const req = parseRequest(await readStdin());
      const principal: Principal = { kind: 'agent', agentId: o.agent, trustLevel: 'limited', capabilities: [], door: 'plugin' };
      const values: Record<string, string> = {};
      const errors: Record<string, { code: string; message: string }> = {};
      await withBroker(g, async (b, configured) => {
        for (const id of [...new Set(req.ids)]) {
          try {
            values[id] = await b.resolveFor(principal, id);
          } catch (e) {
            const { code, message } = errorShape(e);
            errors[id] = { code: !configured[id] ? 'NOT_FOUND' : code === 'denied' ? 'ACCESS_DENIED' : code === 'secret_unavailable' ? 'UNAVAILABLE' : 'INTERNAL_ERROR', message: !configured[id] ? `no secret named "${id}"` : message };
          }
        }
      });
      process.stdout.write(`${formatResponse(values, errors)}\n`);
    });
}
