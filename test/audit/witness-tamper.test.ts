/**
 * Truncation and rewriting that `audit verify` used to pass, each done to a copy of a real log
 * (SQLite file, key files) whose head a directory witness holds; each must now fail verify (exit
 * 1, naming the missing range or the first bad seq) and make a real gateway refuse to start.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/server/index.js';
import { generateSigningKey, writeSigningKey } from '../../src/audit/keys.js';
import { makeKeyStatement } from '../../src/audit/key-history.js';
import { copyDir, ev, openLog, rawDb, resignCheckpoints, rewriteAndResign, stateKey, tempState } from './helpers.js';

const BIN = resolve('bin/clawguard.js');
let pristine: string;

before(async () => {
  pristine = tempState();
  mkdirSync(join(pristine, 'witness'));
  mkdirSync(join(pristine, 'state'));
  const log = openLog(join(pristine, 'state'), { checkpointEvery: 10, witness: [{ kind: 'dir', dir: join(pristine, 'witness') }] });
  await log.checkAtStart();
  for (let wave = 0; wave < 7; wave++) await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(ev(wave * 5 + i + 1))));
  // checkpoints at 10, 20, 30; events 31..35 unsigned locally, but the witness holds the head of 35
  log.checkpointNow = () => undefined;
  await log.close();
  const held = JSON.parse(readFileSync(join(pristine, 'witness', 'witness.json'), 'utf8'));
  assert.equal(held.latest.treeSize, 35);
});

/** A copy of the pristine state dir and witness, altered. */
function altered(mutate: (stateDir: string) => void): { state: string; witness: string } {
  const root = copyDir(pristine);
  const state = join(root, 'state');
  mutate(state);
  return { state, witness: join(root, 'witness') };
}
const sql = (stmts: string) => (state: string) => {
  const db = rawDb(join(state, 'clawguard.db'));
  db.exec(stmts);
  db.close();
};

function verify(state: string, witness?: string): { status: number | null; out: any; text: string } {
  const args = [BIN, 'audit', 'verify', '--state-dir', state, ...(witness ? ['--witness', witness] : [])];
  const json = spawnSync(process.execPath, [...args, '--json'], { encoding: 'utf8' });
  const text = spawnSync(process.execPath, args, { encoding: 'utf8' });
  let out: any = null;
  try {
    out = JSON.parse(json.stdout);
  } catch {
    /* an error, on stderr */
  }
  return { status: json.status, out, text: text.stdout + text.stderr };
}

/** Start a real gateway on the state dir (with the witness configured, if given); its refusal, if any. */
async function start(state: string, witness?: string): Promise<{ started: boolean; code?: string; message?: string }> {
  const config = parseConfig({ audit: { witness: witness ? [{ dir: witness }] : [] } }, join(state, '..', 'clawguard.json'));
  const gw = new Gateway({ config, stateDir: state, port: 0, logger: pino({ level: 'silent' }) });
  try {
    await gw.start();
    await gw.stop(1000);
    return { started: true };
  } catch (e) {
    await gw.stop(0);
    return { started: false, code: (e as { code?: string }).code!, message: (e as Error).message };
  }
}

async function refusedAt(state: string, witness: string | undefined, seq: number, why: RegExp): Promise<void> {
  const s = await start(state, witness);
  assert.equal(s.started, false, 'the gateway must refuse to start');
  assert.equal(s.code, 'audit_broken');
  assert.match(s.message!, new RegExp(`^the audit log is broken at seq ${seq}:`));
  assert.match(s.message!, why);
  assert.match(s.message!, /--audit-new-segment/);
}

test('the untouched log verifies against its witness and starts', async () => {
  const { state, witness } = altered(() => undefined);
  const v = verify(state, witness);
  assert.equal(v.status, 0, v.text);
  assert.equal(v.out.truncationDetectable, true);
  assert.match(v.text, /consistent with the witness at dir .*: it holds a tree of 35 events/);
  assert.match(v.text, /checkpoints signed by key [0-9a-f]{32} \(pinned at dir /);
  assert.deepEqual(await start(state, witness), { started: true });
});

test('deleting the unsigned tail: verify names the missing events and what the witness saw; start refuses', async () => {
  const { state, witness } = altered(sql('DELETE FROM audit_events WHERE seq > 30'));
  const v = verify(state, witness);
  assert.equal(v.status, 1, v.text);
  assert.equal(v.out.firstBadSeq, 31);
  assert.match(v.text, /^audit log BROKEN at seq 31: events 31\.\.35 are missing: the witness at dir .*witness saw a tree of 35/);
  await refusedAt(state, witness, 31, /events 31\.\.35 are missing: the witness at dir .* saw a tree of 35/);
});

test('deleting the last checkpoint and the events after the one before: caught', async () => {
  const { state, witness } = altered(sql('DELETE FROM audit_checkpoints WHERE tree_size = 30; DELETE FROM audit_events WHERE seq > 20'));
  const v = verify(state, witness);
  assert.equal(v.status, 1, v.text);
  assert.match(v.out.problem, /events 21\.\.35 are missing/);
  await refusedAt(state, witness, 21, /events 21\.\.35 are missing/);
});

test('deleting every checkpoint and every event after seq 10: caught', async () => {
  const { state, witness } = altered(sql('DELETE FROM audit_checkpoints; DELETE FROM audit_events WHERE seq > 10'));
  const v = verify(state, witness);
  assert.equal(v.status, 1, v.text);
  assert.equal(v.out.firstBadSeq, 11);
  assert.match(v.out.problem, /events 11\.\.35 are missing: the witness at dir .* saw a tree of 35/);
  await refusedAt(state, witness, 11, /events 11\.\.35 are missing/);
});

test('a rewritten chain re-signed with the state dir’s own key: the witness’s head does not match', async () => {
  const { state, witness } = altered((dir) => {
    const db = rawDb(join(dir, 'clawguard.db'));
    rewriteAndResign(db, 15, (c) => (c.decision = c.decision === 'allow' ? 'deny' : 'allow'), stateKey(dir));
    db.close();
  });
  // without the witness the forgery is perfect: that is the point of the witness
  assert.equal(verify(state).status, 0);
  const v = verify(state, witness);
  assert.equal(v.status, 1, v.text);
  assert.match(v.out.problem, /not what the witness at dir .* saw: its first 35 events have a different Merkle root/);
  await refusedAt(state, witness, 35, /different Merkle root/);
});

test('a swapped key (a new key pair in the state dir, every checkpoint and the key history re-signed): the witness’s pinned key rules', async () => {
  const { state, witness } = altered((dir) => {
    const mine = generateSigningKey();
    writeSigningKey(dir, mine);
    const db = rawDb(join(dir, 'clawguard.db'));
    resignCheckpoints(db, mine);
    db.exec('DELETE FROM audit_keys');
    db.prepare('INSERT INTO audit_keys (key_id, statement) VALUES (?, ?)').run(mine.keyId, JSON.stringify(makeKeyStatement(mine, { segment: 1, fromSize: 0, reason: 'genesis' })));
    db.close();
  });
  assert.equal(verify(state).status, 0, 'the state dir alone vouches for the new key');
  const v = verify(state, witness);
  assert.equal(v.status, 1, v.text);
  assert.equal(v.out.firstBadSeq, 10);
  assert.match(v.out.problem, /checkpoint at seq 10 is signed by key [0-9a-f]+, not the trusted key/);
  const s = await start(state, witness);
  assert.equal(s.started, false);
  assert.match(s.message!, /signing keys are not the ones pinned at the witness/);
  // an inclusion proof from the forged log passes against the state dir's key, not against the pinned one
  const proof = spawnSync(process.execPath, [BIN, 'audit', 'proof', '12', '--state-dir', state], { encoding: 'utf8' });
  assert.equal(proof.status, 0, proof.stderr);
  const own = spawnSync(process.execPath, [BIN, 'audit', 'verify-proof', '-', '--state-dir', state], { encoding: 'utf8', input: proof.stdout });
  assert.equal(own.status, 0, 'the state dir vouches for its own forgery');
  const pinned = spawnSync(process.execPath, [BIN, 'audit', 'verify-proof', '-', '--witness', witness, '--json'], { encoding: 'utf8', input: proof.stdout });
  assert.equal(pinned.status, 1, pinned.stdout);
  assert.match(JSON.parse(pinned.stdout).problem, /not signed by the trusted key/);
  const honest = spawnSync(process.execPath, [BIN, 'audit', 'proof', '12', '--state-dir', join(pristine, 'state')], { encoding: 'utf8' });
  const ok = spawnSync(process.execPath, [BIN, 'audit', 'verify-proof', '-', '--witness', witness], { encoding: 'utf8', input: honest.stdout });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
});

test('a replaced audit-signing.pub is an error for verify and start, never silently overwritten', async () => {
  const { state, witness } = altered((dir) => writeFileSync(join(dir, 'audit-signing.pub'), generateSigningKey().publicKey.export({ type: 'spki', format: 'pem' })));
  const pub = readFileSync(join(state, 'audit-signing.pub'), 'utf8');
  const v = verify(state);
  assert.equal(v.status, 1, v.text);
  assert.match(v.out.problem, /audit-signing\.pub is not the public half of .*audit-signing\.key/);
  const s = await start(state, witness);
  assert.equal(s.started, false);
  assert.match(s.message!, /audit-signing\.pub is not the public half .*rotate-key/s);
  assert.equal(readFileSync(join(state, 'audit-signing.pub'), 'utf8'), pub, 'the .pub file is left as found');
});

test('deleting both key files: verify without a witness fails (no trusted key), start refuses and does not make a new key', async () => {
  const { state, witness } = altered((dir) => {
    rmSync(join(dir, 'audit-signing.key'));
    rmSync(join(dir, 'audit-signing.pub'));
  });
  const v = verify(state);
  assert.equal(v.status, 1, v.text);
  assert.match(v.out.problem, /no trusted key/);
  const w = verify(state, witness);
  assert.equal(w.status, 0, `the log itself is intact and the witness pinned its key: ${w.text}`);
  const s = await start(state, witness);
  assert.equal(s.started, false);
  assert.match(s.message!, /audit-signing\.key is missing.*run "clawguard audit rotate-key"/s);
  assert.equal(existsSync(join(state, 'audit-signing.key')), false, 'no key was regenerated');
  assert.equal(existsSync(join(state, 'audit-signing.pub')), false);
});

test('deleting clawguard.db: a gateway refuses to start, with a witness (it saw 35 events) and without one (the key outlived its log)', async () => {
  const { state, witness } = altered((dir) => {
    for (const f of ['clawguard.db', 'clawguard.db-wal', 'clawguard.db-shm']) rmSync(join(dir, f), { force: true });
  });
  await refusedAt(state, witness, 1, /events 1\.\.35 are missing: the witness at dir .* saw a tree of 35 \(clawguard\.db deleted or replaced\?\)/);
  await refusedAt(state, undefined, 1, /the state dir holds a signing key \(key [0-9a-f]+\) but no audit log: clawguard\.db was deleted or replaced/);
  const v = verify(state, witness);
  assert.equal(v.status, 1);
  assert.match(v.text, /events 1\.\.35 are missing: the witness at dir .* saw a tree of 35/);
});

test('without a witness, verify says plainly that truncation cannot be detected, and status warns', async () => {
  const { state } = altered(() => undefined);
  const v = verify(state);
  assert.equal(v.status, 0);
  assert.equal(v.out.truncationDetectable, false);
  assert.match(v.text, /WARNING: truncation cannot be detected: no witness is configured/);
  const config = parseConfig({}, join(state, '..', 'clawguard.json'));
  const gw = new Gateway({ config, stateDir: state, port: 0, logger: pino({ level: 'silent' }) });
  await gw.start();
  try {
    const a = gw.status().audit as { witness: { detectsTruncation: boolean }; warnings: string[] };
    assert.equal(a.witness.detectsTruncation, false);
    assert.match(a.warnings.join('\n'), /no witness is configured .* cannot be detected/);
  } finally {
    await gw.stop(1000);
  }
});
