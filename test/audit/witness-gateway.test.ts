/**
 * Witnessing in a real gateway: it publishes its key and signed heads to a witness server, a
 * directory and syslog while it serves; it refuses to restart on a log a witness shows to be cut
 * short, unless told to continue on a new segment, which records the break and is witnessed; a
 * witness that refuses the log is a loud error and makes the audit status not ok.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { readEvents, WitnessServer } from '../../src/audit/index.js';
import { checkpointSignatureOk } from '../../src/audit/checkpoint.js';
import { publicKeyFromSpkiBase64 } from '../../src/audit/keys.js';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/server/index.js';
import { waitFor } from '../helpers/gateway.js';
import { tempState } from './helpers.js';

const BIN = resolve('bin/clawguard.js');
let server: WitnessServer;
let witnessUrl: string;
const root = tempState();

before(async () => {
  server = new WitnessServer({ dir: join(root, 'witness-server') });
  witnessUrl = (await server.listen()).url;
});
after(() => server.close());

function gatewayOn(stateDir: string, audit: unknown, o: { auditNewSegment?: boolean; logLines?: unknown[] } = {}): Gateway {
  const config = parseConfig({ audit }, join(root, 'clawguard.json'));
  const logger = o.logLines ? pino({ level: 'debug' }, { write: (s: string) => void o.logLines!.push(JSON.parse(s)) }) : pino({ level: 'silent' });
  return new Gateway({ config, stateDir, port: 0, logger, ...(o.auditNewSegment ? { auditNewSegment: true } : {}) });
}

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => res({ status, stdout, stderr }));
  });
}

const get = async (gw: Gateway, path: string) => {
  const r = await request(gw.url + path, { headers: { authorization: `Bearer ${gw.token}` } });
  return { status: r.statusCode, json: (await r.body.json()) as any };
};
/** Audited traffic: each unknown route leaves one durable http.rejected event. */
const traffic = async (gw: Gateway, n: number) => {
  for (let i = 0; i < n; i++) await (await request(`${gw.url}/v1/no-such/${i}`, { headers: { authorization: `Bearer ${gw.token}` } })).body.text();
};
type AuditStatus = { ok: boolean; reason?: string; lastSeq: number; segment: number; witness: { ok: boolean; detectsTruncation: boolean; lastWitnessedSize: number | null; witnesses: Array<{ name: string; health: string; treeSize: number | null; error: string | null }> } };
const auditStatus = (gw: Gateway) => gw.status().audit as AuditStatus;

test('a gateway publishes its heads to a witness server, a directory and syslog (UDP) within about a second of growing; status shows each', async () => {
  const dir = join(root, 'w-dir-1');
  mkdirSync(dir);
  const udp = createSocket('udp4');
  const datagrams: string[] = [];
  udp.on('message', (m) => datagrams.push(m.toString()));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = (udp.address() as { port: number }).port;
  const state = join(root, 'state-1');
  const gw = gatewayOn(state, { witness: [{ url: `${witnessUrl}/v1/logs/gw1` }, { dir }, { syslog: { udp: `127.0.0.1:${port}` } }] });
  await gw.start();
  try {
    await traffic(gw, 25);
    const size = auditStatus(gw).lastSeq;
    await waitFor(() => auditStatus(gw).witness.witnesses.every((w) => w.health === 'ok' && (w.treeSize ?? size) >= size), 5000);
    const s = auditStatus(gw);
    assert.equal(s.ok, true, s.reason);
    assert.equal(s.witness.detectsTruncation, true);
    assert.ok(s.witness.lastWitnessedSize! >= size);
    assert.deepEqual(s.witness.witnesses.map((w) => w.name.split(' ')[0]), ['url', 'dir', 'syslog']);
    const held = (await get(gw, '/v1/status')).json.audit.witness;
    assert.equal(held.ok, true, 'and over the API');
    // the witness server holds a head signed by the gateway's key, which it pinned
    const st = ((await (await request(`${witnessUrl}/v1/logs/gw1`)).body.json()) as { state: any }).state;
    assert.equal(st.keys.at(-1).keyId, (gw.status().audit as { signing: { keyId: string } }).signing.keyId, 'the gateway’s key is pinned');
    assert.equal(checkpointSignatureOk(st.latest, publicKeyFromSpkiBase64(st.keys[0].publicKey)).ok, true);
    assert.ok(JSON.parse(readFileSync(join(dir, 'witness.json'), 'utf8')).latest.treeSize >= size);
    // syslog received the key and heads as RFC 5424 lines; the head in them verifies with the key
    await waitFor(() => datagrams.some((d) => / checkpoint - checkpoint /.test(d)), 3000);
    const keyLine = datagrams.find((d) => / key - key /.test(d))!;
    assert.match(keyLine, /^<37>1 \S+ \S+ clawguard-audit \d+ key - key \{/);
    const key = JSON.parse(keyLine.slice(keyLine.indexOf('{')));
    const head = JSON.parse(datagrams.filter((d) => / checkpoint - /.test(d)).at(-1)!.split(' checkpoint - checkpoint ')[1]!);
    assert.equal(checkpointSignatureOk(head, publicKeyFromSpkiBase64(key.publicKey)).ok, true);
  } finally {
    await gw.stop(1000);
    udp.close();
  }
  // a clean restart is fine; the witnesses hold the final head
  const again = gatewayOn(state, { witness: [{ url: `${witnessUrl}/v1/logs/gw1` }, { dir }] });
  await again.start();
  await again.stop(1000);
});

test('a directory witness inside the state dir is no witness against whoever holds the state dir: start and status say so', async () => {
  const state = join(root, 'state-inside');
  mkdirSync(join(state, 'w'), { recursive: true });
  const gw = gatewayOn(state, { witness: [{ dir: join(state, 'w') }] });
  const lines: string[] = [];
  await gw.start();
  try {
    lines.push(...(gw.status().audit as { warnings: string[] }).warnings);
    assert.match(lines.join('\n'), /the witness at dir .*state-inside\/w is inside the state dir/);
  } finally {
    await gw.stop(1000);
  }
});

test('syslog through a Unix socket (util-linux logger), received by socat', async (t) => {
  const sock = join(root, 'syslog.sock');
  const out = join(root, 'syslog.out');
  const socat = spawn('socat', ['-u', `UNIX-RECV:${sock}`, `OPEN:${out},creat,append`], { stdio: 'ignore' });
  await waitFor(() => {
    try {
      return readFileSync(sock) !== undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENXIO' || (e as NodeJS.ErrnoException).code === 'EOPNOTSUPP';
    }
  }, 3000).catch(() => undefined);
  if (spawnSync('logger', ['--version']).status !== 0) {
    socat.kill();
    t.skip('util-linux logger is not installed');
    return;
  }
  const gw = gatewayOn(join(root, 'state-syslog'), { witness: [{ syslog: { socket: sock, tag: 'cg-test' } }] });
  await gw.start();
  try {
    await traffic(gw, 3);
    await waitFor(() => {
      try {
        return /cg-test.*checkpoint \{/.test(readFileSync(out, 'utf8'));
      } catch {
        return false;
      }
    }, 5000);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /cg-test.*key \{"v":1,"kind":"clawguard-audit-key"/);
    const s = auditStatus(gw);
    assert.equal(s.witness.detectsTruncation, false, 'syslog only receives: it cannot tell what it holds');
  } finally {
    await gw.stop(1000);
    socat.kill();
  }
});

test('a deleted clawguard.db: start refuses; --audit-new-segment continues on segment 2, whose first event records the break, and the witness keeps both', async () => {
  const state = join(root, 'state-2');
  const witness = [{ url: `${witnessUrl}/v1/logs/gw2` }];
  const gw = gatewayOn(state, { witness });
  await gw.start();
  await traffic(gw, 12);
  const before = auditStatus(gw).lastSeq;
  await gw.stop(1000);
  for (const f of ['clawguard.db', 'clawguard.db-wal', 'clawguard.db-shm']) rmSync(join(state, f), { force: true });
  const refused = gatewayOn(state, { witness });
  await assert.rejects(refused.start(), (e: Error & { code?: string }) => e.code === 'audit_broken' && new RegExp(`events 1\\.\\.${before} are missing: the witness at url .*gw2 saw a tree of ${before}`).test(e.message));
  await refused.stop(0);
  const lines: unknown[] = [];
  const cont = gatewayOn(state, { witness }, { auditNewSegment: true, logLines: lines });
  await cont.start();
  try {
    const first = readEvents(cont.auditLog.database!, { limit: 1 })[0]!;
    assert.equal(first.type, 'audit.segment.start');
    assert.equal(first.seq, 1);
    assert.equal(first.payload!.segment, 2);
    assert.match(JSON.stringify(first.payload!.found), new RegExp(`events 1\\.\\.${before} are missing`));
    assert.deepEqual((first.payload!.witnesses as Array<{ treeSize: number }>).map((w) => w.treeSize), [before]);
    assert.ok(lines.some((l) => (l as { level: number; msg: string }).level >= 50 && /new segment/.test((l as { msg: string }).msg)), 'logged as an error');
    await traffic(cont, 3);
    await waitFor(() => auditStatus(cont).witness.witnesses[0]!.treeSize === auditStatus(cont).lastSeq, 5000);
    assert.equal(auditStatus(cont).segment, 2);
  } finally {
    await cont.stop(1000);
  }
  const st = ((await (await request(`${witnessUrl}/v1/logs/gw2`)).body.json()) as { state: any }).state;
  assert.equal(st.latest.segment, 2);
  assert.deepEqual(st.segments.map((g: { segment: number; previous: { treeSize: number } }) => [g.segment, g.previous.treeSize]), [[2, before]]);
  // (not spawnSync: the witness server answers from this process)
  const v = await runCli(['audit', 'verify', '--state-dir', state, '--witness', `${witnessUrl}/v1/logs/gw2`]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /segment 2 of this log: it continued after a break/);
  assert.match(v.stdout, /1 break recorded there/);
  // and it starts again normally on segment 2
  const next = gatewayOn(state, { witness });
  await next.start();
  await next.stop(1000);
});

test('a witness unreachable at start is a warning (publishing retries); once back, its refusal (it pinned another gateway’s key for this name) is a loud error and audit status is not ok', async () => {
  const dir = join(root, 'witness-3');
  let other = new WitnessServer({ dir });
  const { url, port } = await other.listen();
  const witness = [{ url: `${url}/v1/logs/gw3` }];
  const a = gatewayOn(join(root, 'state-3a'), { witness });
  await a.start();
  await traffic(a, 2);
  await a.stop(1000);
  await other.close();
  const lines: unknown[] = [];
  const b = gatewayOn(join(root, 'state-3b'), { witness }, { logLines: lines });
  await b.start();
  try {
    const warned = (b.status().audit as { warnings: string[] }).warnings.join('\n');
    assert.match(warned, /the witness at url .*gw3 is unreachable/);
    other = new WitnessServer({ dir, port });
    await other.listen();
    await traffic(b, 2);
    await waitFor(() => auditStatus(b).witness.witnesses[0]!.health === 'refused', 8000);
    const s = auditStatus(b);
    assert.equal(s.ok, false);
    assert.match(s.reason!, /the witness at url .*gw3 refused the log: unknown_key/);
    assert.equal(s.witness.ok, false);
    assert.ok(lines.some((l) => (l as { level: number; msg: string }).level >= 50 && /WITNESS REFUSED/.test((l as { msg: string }).msg)));
    assert.equal((await get(b, '/v1/status')).json.audit.ok, false, 'and over the API');
  } finally {
    await b.stop(1000);
    await other.close();
  }
});

test('`clawguard start` on a log cut short behind its witness exits 1 naming the first missing seq, and starts again with --audit-new-segment', async () => {
  const dir = join(root, 'w-dir-cli');
  mkdirSync(dir);
  const state = join(root, 'state-cli');
  const config = join(root, 'cli.json');
  writeFileSync(config, JSON.stringify({ audit: { witness: [{ dir }] } }));
  const gw = gatewayOn(state, { witness: [{ dir }] });
  await gw.start();
  await traffic(gw, 8);
  await gw.stop(1000);
  const { rawDb } = await import('./helpers.js');
  const db = rawDb(join(state, 'clawguard.db'));
  db.exec('DELETE FROM audit_events WHERE seq > 4; DELETE FROM audit_checkpoints WHERE tree_size > 4');
  db.close();
  const run = (extra: string[]) =>
    new Promise<{ code: number | null; err: string }>((res) => {
      const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--state-dir', state, '--config', config, ...extra], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CLAWGUARD_LOG_LEVEL: 'error' } });
      let err = '';
      let stopping = false;
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (!stopping && /gateway listening on/.test(err)) {
          stopping = true;
          // (start.ts installs its signal handlers just after printing this line)
          setTimeout(() => child.kill('SIGTERM'), 300);
        }
      });
      child.once('exit', (code, signal) => res({ code, err: `${err}${signal ? ` (signal ${signal})` : ''}` }));
    });
  const r = await run([]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /the audit log is broken at seq 5:\n\s+- events 5\.\.\d+ are missing: the witness at dir .* saw a tree of \d+/);
  assert.match(r.err, /nothing started/);
  const ok = await run(['--audit-new-segment']);
  assert.match(ok.err, /gateway listening on/);
  assert.equal(ok.code, 0, ok.err);
});
