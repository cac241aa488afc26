/**
 * The witness server, started by the tests (in process, and as `clawguard audit witness serve`):
 * it pins a log's key on first contact and stores a head only when it is signed by that key and
 * provably extends the head it holds. Attacked with every kind of forged submission, and with a
 * fixed-seed mix of honest and tampered heads from a real, growing log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { consistencyFromDb, WitnessServer } from '../../src/audit/index.js';
import { signCheckpoint, type Checkpoint } from '../../src/audit/checkpoint.js';
import { makeKeyStatement } from '../../src/audit/key-history.js';
import { generateSigningKey, spkiBase64 } from '../../src/audit/keys.js';
import { mulberry32 } from '../helpers/prng.js';
import { ev, openLog, stateKey, tempState } from './helpers.js';

let server: WitnessServer;
let base: string;
const dir = tempState();

before(async () => {
  server = new WitnessServer({ dir: join(dir, 'witness') });
  base = `${(await server.listen()).url}/v1/logs`;
});
after(() => server.close());

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await request(base + path, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  return { status: r.statusCode, json: await r.body.json() };
}

/** A real log, its key statements, and signed heads with proofs from the real tables. */
async function realLog(events: number) {
  const state = tempState();
  const log = openLog(state, { checkpointEvery: 16 });
  const heads: Array<{ checkpoint: Checkpoint; pieces: string[] }> = [];
  for (let i = 1; i <= events; i++) {
    await log.append(ev(i));
    heads.push(log.signHead()!);
  }
  const keys = log.keyHistory();
  const db = log.database!;
  const proof = (from: number, to: number) => consistencyFromDb(db, { from, to }).path;
  return { log, keys, heads, proof, key: stateKey(state) };
}

test('a key history is pinned on first contact; a different one, or a head before any key, is refused', async () => {
  const { log, keys, heads } = await realLog(3);
  assert.equal((await call('POST', '/a1/checkpoints', { checkpoint: heads[0]!.checkpoint, consistency: { from: 0, path: [] } })).json.error.code, 'unknown_key');
  assert.equal((await call('POST', '/a1/keys', { keys })).status, 200);
  assert.equal((await call('POST', '/a1/keys', { keys })).status, 200, 'the same history again is fine');
  const other = makeKeyStatement(generateSigningKey(), { segment: 1, fromSize: 0, reason: 'genesis' });
  const r = await call('POST', '/a1/keys', { keys: [other] });
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'unknown_key');
  const forged = { ...keys[0]!, publicKey: other.publicKey };
  assert.equal((await call('POST', '/a2/keys', { keys: [forged] })).json.error.code, 'bad_signature', 'a statement not signed by its own key');
  const st = (await call('GET', '/a1')).json.state;
  assert.deepEqual(st.keys.map((k: { keyId: string }) => k.keyId), [keys[0]!.keyId]);
  assert.equal(st.latest, null);
  await log.close();
});

test('heads: accepted only when signed by the pinned key and consistent; forged, older, forked and stale ones are refused with the held head', async () => {
  const { log, keys, heads, proof, key } = await realLog(40);
  await call('POST', '/b/keys', { keys });
  const sub = (i: number, from: number, path = proof(from, i)) => ({ checkpoint: heads[i - 1]!.checkpoint, consistency: { from, path } });
  assert.equal((await call('POST', '/b/checkpoints', sub(10, 0, []))).status, 200, 'first head: nothing to be consistent with');
  assert.equal((await call('POST', '/b/checkpoints', sub(25, 10))).status, 200);
  const refused = async (body: unknown, code: string, why?: RegExp) => {
    const r = await call('POST', '/b/checkpoints', body);
    assert.equal(r.json.error?.code, code, JSON.stringify(r.json));
    if (why) assert.match(r.json.error.message, why);
    assert.equal(r.json.latest.treeSize, 25, 'the refusal says what the witness holds');
  };
  await refused(sub(30, 10), 'stale', /from 25/);
  await refused(sub(20, 10), 'inconsistent', /events 21\.\.25 are missing/);
  const p = proof(25, 30);
  await refused(sub(30, 25, p.map((h, i) => (i === 0 ? h.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) : h))), 'inconsistent', /not an extension/);
  await refused(sub(30, 25, p.slice(1)), 'inconsistent');
  await refused({ checkpoint: heads[29]!.checkpoint, consistency: { from: 25, path: ['nothex'] } }, 'bad_request');
  // a fork: the key holder signs another tree of the same size, or a bigger one that does not extend it
  await refused({ checkpoint: signCheckpoint({ ...heads[24]!.checkpoint, root: 'ab'.repeat(32) }, key.privateKey), consistency: { from: 25, path: [] } }, 'inconsistent', /different head of 25 events .*: the log was rewritten/);
  await refused({ checkpoint: signCheckpoint({ ...heads[29]!.checkpoint, root: 'ab'.repeat(32) }, key.privateKey), consistency: { from: 25, path: p } }, 'inconsistent', /not an extension/);
  const k = generateSigningKey();
  const other = signCheckpoint({ ...heads[24]!.checkpoint, keyId: k.keyId, publicKey: spkiBase64(k.publicKey) }, k.privateKey);
  await refused({ checkpoint: other, consistency: { from: 25, path: [] } }, 'unknown_key', /trusts/);
  const badSig = { ...heads[29]!.checkpoint, root: 'cd'.repeat(32) };
  await refused({ checkpoint: badSig, consistency: { from: 25, path: p } }, 'bad_signature');
  await refused({ checkpoint: { ...heads[24]!.checkpoint, treeSize: 1e300 }, consistency: { from: 25, path: [] } }, 'bad_request');
  assert.equal((await call('POST', '/b/checkpoints', sub(25, 25, []))).status, 200, 'the held head again is idempotent');
  assert.equal((await call('POST', '/b/checkpoints', sub(40, 25))).status, 200);
  assert.equal((await call('GET', '/b')).json.state.latest.treeSize, 40);
  await log.close();
});

test('a new key cannot re-sign history the witness holds; a rotation from the held size on is pinned', async () => {
  const { log, keys, heads, proof } = await realLog(20);
  await call('POST', '/c/keys', { keys });
  await call('POST', '/c/checkpoints', { checkpoint: heads[14]!.checkpoint, consistency: { from: 0, path: [] } });
  const next = generateSigningKey();
  const early = makeKeyStatement(next, { previous: { keyId: keys[0]!.keyId }, segment: 1, fromSize: 10, reason: 'key-lost' });
  const r = await call('POST', '/c/keys', { keys: [...keys, early] });
  assert.equal(r.json.error.code, 'inconsistent');
  assert.match(r.json.error.message, /cannot re-sign witnessed history/);
  const later = makeKeyStatement(next, { previous: { keyId: keys[0]!.keyId }, segment: 1, fromSize: 16, reason: 'key-lost' });
  assert.equal((await call('POST', '/c/keys', { keys: [...keys, later] })).status, 200);
  // now the old key's heads are refused and the new key's accepted (the proof is about the tree, not the key)
  assert.equal((await call('POST', '/c/checkpoints', { checkpoint: heads[19]!.checkpoint, consistency: { from: 15, path: proof(15, 20) } })).json.error.code, 'unknown_key');
  const reSigned = signCheckpoint({ ...heads[19]!.checkpoint, keyId: next.keyId, publicKey: spkiBase64(next.publicKey) }, next.privateKey);
  assert.equal((await call('POST', '/c/checkpoints', { checkpoint: reSigned, consistency: { from: 15, path: proof(15, 20) } })).status, 200);
  await log.close();
});

test('hostile requests: bad names, garbage, huge bodies, unknown routes get clear 4xx errors and change nothing', async () => {
  assert.equal((await call('GET', '/..%2f..%2fetc')).status, 400);
  assert.equal((await call('POST', '/d/keys', '{"keys": [')).status, 400);
  assert.equal((await call('POST', '/d/keys', { keys: 'x' })).json.error.code, 'bad_request');
  assert.equal((await call('POST', '/d/keys', { keys: Array.from({ length: 1001 }, () => ({})) })).json.error.code, 'bad_request');
  const big = await request(`${base}/d/keys`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024), headers: { 'content-type': 'application/json' } }).then((r) => r.statusCode).catch(() => 413);
  assert.equal(big, 413);
  assert.equal((await request(`${base.replace(/\/v1\/logs$/, '')}/nope`)).statusCode, 404);
  assert.deepEqual((await call('GET', '/d')).json.state, { v: 1, keys: [], latest: null, segments: [] });
});

test('fixed-seed rounds of honest and tampered heads from a growing log: the witness accepts exactly the honest ones', async () => {
  const rnd = mulberry32(1313);
  const { log, keys, heads, proof } = await realLog(200);
  await call('POST', '/e/keys', { keys });
  let held = 0;
  let accepted = 0;
  let refused = 0;
  const attacker = generateSigningKey();
  for (let round = 0; round < 60; round++) {
    const to = Math.min(200, held + 1 + Math.floor(rnd() * 12));
    const honest = { checkpoint: heads[to - 1]!.checkpoint, consistency: { from: held, path: held ? proof(held, to) : [] } };
    const kind = Math.floor(rnd() * 6);
    let body: unknown = honest;
    const at = Math.floor(rnd() * honest.consistency.path.length);
    if (kind === 1 && honest.consistency.path.length) body = { ...honest, consistency: { ...honest.consistency, path: honest.consistency.path.map((h, i) => (i === at ? attacker.keyId.padEnd(64, '0') : h)) } };
    if (kind === 2) body = { ...honest, checkpoint: signCheckpoint({ ...honest.checkpoint, keyId: attacker.keyId, publicKey: spkiBase64(attacker.publicKey) }, attacker.privateKey) };
    if (kind === 3 && held > 1) body = { checkpoint: heads[held - 2]!.checkpoint, consistency: { from: held, path: [] } };
    if (kind === 4) body = { ...honest, checkpoint: { ...honest.checkpoint, lastHash: 'ee'.repeat(32) } };
    const tampered = body !== honest;
    const r = await call('POST', '/e/checkpoints', body);
    if (tampered) {
      assert.equal(r.status >= 400, true, `round ${round}: tampered (${kind}) accepted`);
      refused++;
    } else {
      assert.equal(r.status, 200, `round ${round}: honest head of ${to} refused: ${JSON.stringify(r.json)}`);
      held = to;
      accepted++;
    }
    if (held === 200) break;
  }
  assert.ok(accepted > 5 && refused > 5, `${accepted} accepted, ${refused} refused`);
  assert.equal((await call('GET', '/e')).json.state.latest.treeSize, held);
  await log.close();
});

test('`clawguard audit witness serve` is a real witness a gateway publishes to; its state survives a restart', async () => {
  const BIN = resolve('bin/clawguard.js');
  const wdir = join(tempState(), 'w');
  const startServer = async () => {
    const child = spawn(process.execPath, [BIN, 'audit', 'witness', 'serve', '--dir', wdir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const url = await new Promise<string>((res, rej) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/\S+),/.exec(err);
        if (m) res(m[1]!);
      });
      child.once('exit', (c) => rej(new Error(`witness exited ${c}: ${err}`)));
    });
    return { child, url };
  };
  let w = await startServer();
  const state = tempState();
  const log = openLog(state, { witness: [{ kind: 'url', url: `${w.url}/v1/logs/gw` }] });
  await log.checkAtStart();
  for (let i = 1; i <= 30; i++) await log.append(ev(i));
  await log.publishNow();
  const s = (log.status() as { witness: { ok: boolean; lastWitnessedSize: number } }).witness;
  assert.deepEqual([s.ok, s.lastWitnessedSize], [true, 30]);
  w.child.kill('SIGTERM');
  await new Promise((r) => w.child.once('exit', r));
  w = await startServer();
  const got = await request(`${w.url}/v1/logs/gw`).then((r) => r.body.json() as Promise<{ state: { latest: { treeSize: number } } }>);
  assert.equal(got.state.latest.treeSize, 30, 'kept on disk across a restart');
  await log.close();
  w.child.kill('SIGTERM');
});
