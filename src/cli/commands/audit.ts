/**
 * `clawguard audit`: verify the log (against its witnesses), make and check inclusion proofs,
 * export and tail events; rotate the signing key; run a witness server. The read commands read
 * the state dir's database directly (read-only), with or without a gateway running.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { AuditEvent, InclusionProof, WitnessedVerifyResult, WitnessSpec } from '../../audit/index.js';
import { parseDurationSeconds, type WitnessConfig } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { gatewayLockPath, readGatewayLock } from '../../store/index.js';
import { api, type GlobalOpts, loadConfig, ok, print, stateDirOf } from '../context.js';

const audit = () => import('../../audit/index.js');

function line(e: AuditEvent): string {
  const parts = [`#${e.seq}`, e.time, e.type];
  if (e.decision) parts.push(e.decision.toUpperCase());
  if (e.subject) parts.push(e.subject);
  if (e.action) parts.push(e.action);
  if (e.resource) parts.push(e.resource);
  if (e.tier) parts.push(`[${e.tier}${e.policies?.length ? `: ${e.policies.join(', ')}` : ''}]`);
  if (e.runId) parts.push(`run=${e.runId}`);
  return parts.join('  ');
}

/** ISO time, or a duration back from now ("24h", "7d", "30m"). */
export function parseSince(s: string, now = Date.now()): string {
  const d = parseDurationSeconds(s);
  if (d !== undefined && !/^\d{4}-/.test(s)) return new Date(now - d * 1000).toISOString();
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new ClawguardError('bad_request', `--since: expected an ISO 8601 time or a duration such as 24h or 7d, got ${JSON.stringify(s)}`);
  return new Date(t).toISOString();
}

function positiveInt(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new ClawguardError('bad_request', `${flag}: expected a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** `--witness` values: an http(s) URL is a witness server's log URL, anything else a directory. */
function witnessArg(v: string, prev: WitnessSpec[]): WitnessSpec[] {
  return [...prev, /^https?:\/\//i.test(v) ? { kind: 'url', url: v } : { kind: 'dir', dir: resolve(v) }];
}

/** The witnesses to check against: those given with --witness, else the config's audit.witness. */
function witnessSpecs(g: GlobalOpts, given: WitnessSpec[]): WitnessConfig[] {
  return given.length ? given : loadConfig(g).audit.witness;
}

/** The pid of a gateway on this state dir: its lock (taken first) or its gateway.json, if that process runs. */
function gatewayRunning(stateDir: string): number | undefined {
  try {
    const locked = readGatewayLock(gatewayLockPath(stateDir))?.pid;
    if (locked !== undefined) {
      process.kill(locked, 0);
      return locked;
    }
  } catch {
    /* no lock, or its process is gone */
  }
  try {
    const pid = (JSON.parse(readFileSync(join(stateDir, 'gateway.json'), 'utf8')) as { pid?: number }).pid;
    if (typeof pid !== 'number') return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function verifyText(r: WitnessedVerifyResult): string {
  const lines = r.ok
    ? [
        `audit log intact: ${r.events} event${r.events === 1 ? '' : 's'}${r.events ? ` (seq ${r.firstSeq}..${r.lastSeq})` : ''}, ${r.checkpoints} signed checkpoint${r.checkpoints === 1 ? '' : 's'}${r.lastCheckpoint ? `, the last at seq ${r.lastCheckpoint.treeSize} (${r.lastCheckpoint.time})` : ''}`,
        ...(r.segment > 1 ? [`segment ${r.segment} of this log: it continued after a break, which its first event records`] : []),
        ...(r.anchor ? [`pruned up to seq ${r.anchor} (retention); verified from its signed checkpoint`] : []),
        ...(r.unsignedTail ? [`${r.unsignedTail} event${r.unsignedTail === 1 ? '' : 's'} after the last checkpoint (chained; signed at the next checkpoint)`] : []),
        ...(r.erasedPayloads ? [`${r.erasedPayloads} payload${r.erasedPayloads === 1 ? '' : 's'} erased (their hashes still verify)`] : []),
        ...r.witnesses.filter((w) => w.detects && !w.error).map((w) => `consistent with the witness at ${w.name}: it holds a tree of ${w.treeSize ?? 0} events${w.segments > 1 ? ` (segment ${w.segment}; ${w.segments - 1} break${w.segments > 2 ? 's' : ''} recorded there)` : ''}`),
        ...r.witnesses.filter((w) => !w.detects).map((w) => `published to ${w.name} (it only receives: not checked)`),
        r.key ? `checkpoints signed by key ${r.key.keyId} (${r.key.source})` : 'no checkpoints to check signatures of',
      ]
    : [`audit log BROKEN at seq ${r.firstBadSeq ?? '?'}: ${r.problem}`];
  return [...lines, ...r.warnings.map((w) => `WARNING: ${w}`)].join('\n');
}

export function registerAuditCommands(program: Command): void {
  const cmdAudit = program.command('audit').description('the tamper-evident audit log: verify, proofs, export, tail (reads the state dir directly)');

  cmdAudit
    .command('verify')
    .option('--public-key <file>', 'PEM public key the checkpoints must be signed with, when no witness is configured (default: the state dir’s)')
    .option('--witness <dir|url>', 'check against this witness (repeatable; default: the config’s audit.witness)', witnessArg, [] as WitnessSpec[])
    .option('--json', 'machine-readable output')
    .description('recompute the hash chain, payload hashes, Merkle roots and checkpoint signatures, and check the log against its witnesses (the key they pinned, the head they hold); exit 1 naming the first bad seq')
    .action(async (o: { publicKey?: string; witness: WitnessSpec[]; json?: boolean }, cmd: Command) => {
      const { openAuditDb, verifyWithWitnesses, loadPublicKey, stateDirPublicKey, witnessTarget } = await audit();
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const dir = stateDirOf(g);
      const targets = witnessSpecs(g, o.witness).map(witnessTarget);
      const given = o.publicKey ? loadPublicKey(undefined, o.publicKey) : undefined;
      if (o.publicKey && !given) throw new ClawguardError('bad_request', `--public-key: cannot read ${o.publicKey}`);
      const own = o.publicKey ? {} : stateDirPublicKey(dir);
      const key = given ?? own.key;
      try {
        openAuditDb(dir).close(); // a clear error when there is no log
      } catch (e) {
        const { readWitnesses } = await audit();
        const held = (await readWitnesses(targets)).flatMap((r) => ('state' in r && r.state.latest ? [`the witness at ${r.t.name} saw a tree of ${r.state.latest.treeSize} events`] : []));
        if (held.length) throw new ClawguardError('not_found', `${(e as Error).message}; ${held.join('; ')}: the log was deleted`);
        throw e;
      }
      const r = await verifyWithWitnesses({ stateDir: dir }, targets, { ...(key ? { publicKey: key, keySource: o.publicKey ?? 'state dir' } : {}), ...(own.problem ? { keyProblem: own.problem } : {}) });
      await Promise.all(targets.map((t) => t.close()));
      print(!!o.json, r, () => verifyText(r));
      if (!r.ok) process.exitCode = 1;
    });

  cmdAudit
    .command('rotate-key')
    .option('--key-lost', 'the previous key is missing or was replaced: rotate without its endorsement (recorded as such)')
    .option('--json', 'machine-readable output')
    .description('replace the checkpoint signing key (the gateway must be stopped): recorded in the chain as audit.key.rotate, endorsed by the previous key when it is at hand, and published to the witnesses')
    .action(async (o: { keyLost?: boolean; json?: boolean }, cmd: Command) => {
      const { AuditLog } = await audit();
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const dir = stateDirOf(g);
      const pid = gatewayRunning(dir);
      if (pid !== undefined) throw new ClawguardError('conflict', `a gateway (pid ${pid}) is running on ${dir}: stop it first`);
      if (!existsSync(join(dir, 'clawguard.db'))) throw new ClawguardError('not_found', `no audit log in ${dir}`);
      const c = loadConfig(g);
      const log = AuditLog.open({ stateDir: dir, pruneEveryMs: 0, checkpointEvery: c.audit.checkpointEvery, checkpointSeconds: c.audit.checkpointSeconds, witness: c.audit.witness });
      try {
        const r = await log.rotateKey({ keyLost: !!o.keyLost });
        await log.publishNow(10_000);
        const w = (log.status() as { witness: { witnesses: Array<{ name: string; health: string; error: string | null }> } }).witness.witnesses;
        const notOk = w.filter((x) => x.health !== 'ok');
        print(!!o.json, { ...r, witnesses: w }, () =>
          [
            `signing key rotated: ${r.previousKeyId ?? '(none)'} -> ${r.keyId}, recorded as event ${r.seq}${r.endorsed ? ', endorsed by the previous key' : ' WITHOUT the previous key’s endorsement (--key-lost)'}`,
            ...w.map((x) => (x.health === 'ok' ? `published to the witness at ${x.name}` : `NOT published to the witness at ${x.name}: ${x.error ?? x.health}`)),
          ].join('\n'),
        );
        if (notOk.length) process.exitCode = 1;
      } finally {
        await log.close();
      }
    });

  const cmdWitness = cmdAudit.command('witness').description('a witness server for audit logs');
  cmdWitness
    .command('serve')
    .requiredOption('--dir <dir>', 'where the witnessed logs are kept (one subdirectory per log name)')
    .option('--port <n>', 'port to listen on (0: any free port)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ClawguardError('bad_request', `--port: expected 0-65535, got ${JSON.stringify(v)}`);
      return n;
    }, 18781)
    .option('--host <h>', 'address to bind', '127.0.0.1')
    .description('serve a witness: pins each log’s signing key on first contact and stores a signed head only if it is consistent with the one it holds')
    .action(async (o: { dir: string; port: number; host: string }) => {
      const { WitnessServer } = await audit();
      const server = new WitnessServer({ dir: resolve(o.dir), host: o.host, port: o.port, log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) });
      const { url } = await server.listen();
      process.stderr.write(`clawguard audit witness listening on ${url}, logs kept in ${resolve(o.dir)}\n  a gateway publishes to it with audit.witness: [{"url": "${url}/v1/logs/NAME"}]\n`);
      await new Promise<void>((done) => {
        const stop = () => void server.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  cmdAudit
    .command('proof')
    .argument('<seq>', 'the event’s sequence number', positiveInt('seq'))
    .option('--out <file>', 'write the proof to a file instead of stdout')
    .description('an inclusion proof that event SEQ is in the tree a signed checkpoint commits to (check it with verify-proof)')
    .action(async (seq: number, o: { out?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const { openAuditDb, buildInclusionProof } = await audit();
      const db = openAuditDb(stateDirOf(g));
      let proof: InclusionProof;
      try {
        proof = buildInclusionProof(db, seq);
      } catch (e) {
        // Not yet under a checkpoint: a running gateway can write one now.
        if (!(e instanceof ClawguardError && e.code === 'conflict' && existsSync(join(stateDirOf(g), 'gateway.json')))) throw e;
        proof = ok(await api(g, 'GET', `/v1/audit/proof/${seq}`)) as InclusionProof;
      } finally {
        db.close();
      }
      const text = `${JSON.stringify(proof, null, 2)}\n`;
      if (o.out) writeFileSync(o.out, text);
      else process.stdout.write(text);
    });

  cmdAudit
    .command('verify-proof')
    .argument('<file>', 'a proof from "clawguard audit proof" ("-" for stdin)')
    .option('--public-key <file>', 'PEM public key the checkpoint must be signed with (default: the one the witnesses pinned, else the state dir’s, if any)')
    .option('--witness <dir|url>', 'trust the key this witness pinned (repeatable; default: the config’s audit.witness)', witnessArg, [] as WitnessSpec[])
    .option('--json', 'machine-readable output')
    .description('check an inclusion proof: the event hash, the audit path to the Merkle root, the checkpoint signature; exit 1 if it fails')
    .action(async (file: string, o: { publicKey?: string; witness: WitnessSpec[]; json?: boolean }, cmd: Command) => {
      const { verifyInclusionProof, loadPublicKey, pinnedKeyFor, witnessTarget } = await audit();
      let proof: InclusionProof;
      try {
        proof = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as InclusionProof;
      } catch (e) {
        throw new ClawguardError('bad_request', `cannot read a proof from ${file}: ${(e as Error).message}`);
      }
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const pinned = o.publicKey || !proof?.checkpoint ? undefined : await pinnedKeyFor(witnessSpecs(g, o.witness).map(witnessTarget), proof.checkpoint.segment ?? 1, proof.treeSize);
      const key = pinned?.key ?? loadPublicKey(o.publicKey ? undefined : stateDirOf(g), o.publicKey);
      if (o.publicKey && !key) throw new ClawguardError('bad_request', `--public-key: cannot read ${o.publicKey}`);
      const r = verifyInclusionProof(proof, key);
      print(!!o.json, { ...r, seq: proof?.seq ?? null, treeSize: proof?.treeSize ?? null }, () =>
        r.ok
          ? `proof valid: event ${proof.seq} is in the log of ${proof.treeSize} events signed at ${proof.checkpoint.time}${r.keyPinned ? '' : ' (no trusted key: checked against the key embedded in the proof)'}`
          : `proof INVALID: ${r.problem}`,
      );
      if (!r.ok) process.exitCode = 1;
    });

  cmdAudit
    .command('export')
    .option('--since <time>', 'ISO 8601 time, or a duration back from now (24h, 7d)')
    .option('--format <fmt>', 'jsonl (JSON Lines)', 'jsonl')
    .option('--type <type>', 'only events of this type')
    .description('events with their payloads, one JSON object per line')
    .action(async (o: { since?: string; format: string; type?: string }, cmd: Command) => {
      if (!['jsonl', 'json-lines'].includes(o.format.toLowerCase())) throw new ClawguardError('bad_request', `--format: expected jsonl, got ${JSON.stringify(o.format)}`);
      const { openAuditDb, iterateEvents } = await audit();
      const db = openAuditDb(stateDirOf(cmd.optsWithGlobals<GlobalOpts>()));
      try {
        let chunk = '';
        for (const e of iterateEvents(db, { ...(o.since ? { since: parseSince(o.since) } : {}), ...(o.type ? { type: o.type } : {}) })) {
          chunk += `${JSON.stringify(e)}\n`;
          if (chunk.length > 1 << 16) {
            process.stdout.write(chunk);
            chunk = '';
          }
        }
        process.stdout.write(chunk);
      } finally {
        db.close();
      }
    });

  cmdAudit
    .command('tail')
    .option('-n, --lines <n>', 'how many recent events', positiveInt('--lines'), 20)
    .option('-f, --follow', 'keep printing new events as they commit')
    .option('--type <type>', 'only events of this type')
    .option('--json', 'JSON Lines output')
    .description('the most recent events (and, with -f, new ones as they commit)')
    .action(async (o: { lines: number; follow?: boolean; type?: string; json?: boolean }, cmd: Command) => {
      const { openAuditDb, readEvents } = await audit();
      const db = openAuditDb(stateDirOf(cmd.optsWithGlobals<GlobalOpts>()));
      const show = (events: AuditEvent[]) => {
        if (events.length) process.stdout.write(`${events.map((e) => (o.json ? JSON.stringify(e) : line(e))).join('\n')}\n`);
      };
      const recent = readEvents(db, { limit: o.lines, desc: true, ...(o.type ? { type: o.type } : {}) }).reverse();
      show(recent);
      if (!o.follow) {
        db.close();
        return;
      }
      let after = recent.at(-1)?.seq ?? (readEvents(db, { limit: 1, desc: true })[0]?.seq ?? 0);
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          try {
            const next = readEvents(db, { afterSeq: after, limit: 1000, ...(o.type ? { type: o.type } : {}) });
            show(next);
            if (next.length) after = next.at(-1)!.seq;
          } catch (e) {
            process.stderr.write(`clawguard: ${(e as Error).message}\n`);
          }
        }, 250);
        const stop = () => {
          clearInterval(timer);
          db.close();
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
