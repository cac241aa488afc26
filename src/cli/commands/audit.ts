/**
 * `clawguard audit`: verify the log, make and check inclusion proofs, export and tail events.
 * These read the state dir's database directly (read-only), with or without a gateway running.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { AuditEvent, InclusionProof } from '../../audit/index.js';
import { parseDurationSeconds } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { api, type GlobalOpts, ok, print, stateDirOf } from '../context.js';

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

export function registerAuditCommands(program: Command): void {
  const cmdAudit = program.command('audit').description('the tamper-evident audit log: verify, proofs, export, tail (reads the state dir directly)');

  cmdAudit
    .command('verify')
    .option('--public-key <file>', 'PEM public key the checkpoints must be signed with (default: the state dir’s)')
    .option('--json', 'machine-readable output')
    .description('recompute the hash chain, payload hashes, Merkle roots and checkpoint signatures; exit 1 naming the first bad seq')
    .action(async (o: { publicKey?: string; json?: boolean }, cmd: Command) => {
      const { openAuditDb, verifyAuditLogParallel, loadPublicKey } = await audit();
      const dir = stateDirOf(cmd.optsWithGlobals<GlobalOpts>());
      const key = loadPublicKey(dir, o.publicKey);
      if (o.publicKey && !key) throw new ClawguardError('bad_request', `--public-key: cannot read ${o.publicKey}`);
      openAuditDb(dir).close(); // a clear error when there is no log
      const r = await verifyAuditLogParallel({ stateDir: dir }, { ...(key ? { publicKey: key, keySource: o.publicKey ?? 'state dir' } : {}) });
      print(!!o.json, r, () =>
        r.ok
          ? [
              `audit log intact: ${r.events} event${r.events === 1 ? '' : 's'}${r.events ? ` (seq ${r.firstSeq}..${r.lastSeq})` : ''}, ${r.checkpoints} signed checkpoint${r.checkpoints === 1 ? '' : 's'}${r.lastCheckpoint ? `, the last at seq ${r.lastCheckpoint.treeSize} (${r.lastCheckpoint.time})` : ''}`,
              ...(r.anchor ? [`pruned up to seq ${r.anchor} (retention); verified from its signed checkpoint`] : []),
              ...(r.unsignedTail ? [`${r.unsignedTail} event${r.unsignedTail === 1 ? '' : 's'} after the last checkpoint (chained; signed at the next checkpoint)`] : []),
              ...(r.erasedPayloads ? [`${r.erasedPayloads} payload${r.erasedPayloads === 1 ? '' : 's'} erased (their hashes still verify)`] : []),
              r.key ? `checkpoints signed by key ${r.key.keyId} (${r.key.source})` : 'no trusted key found: checkpoint signatures checked against their embedded keys only',
            ].join('\n')
          : `audit log BROKEN at seq ${r.firstBadSeq}: ${r.problem}`,
      );
      if (!r.ok) process.exitCode = 1;
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
    .option('--public-key <file>', 'PEM public key the checkpoint must be signed with (default: the state dir’s, if any)')
    .option('--json', 'machine-readable output')
    .description('check an inclusion proof: the event hash, the audit path to the Merkle root, the checkpoint signature; exit 1 if it fails')
    .action(async (file: string, o: { publicKey?: string; json?: boolean }, cmd: Command) => {
      const { verifyInclusionProof, loadPublicKey } = await audit();
      let proof: InclusionProof;
      try {
        proof = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as InclusionProof;
      } catch (e) {
        throw new ClawguardError('bad_request', `cannot read a proof from ${file}: ${(e as Error).message}`);
      }
      const key = loadPublicKey(o.publicKey ? undefined : stateDirOf(cmd.optsWithGlobals<GlobalOpts>()), o.publicKey);
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
