/**
 * `clawguard audit rotate-key`: the only way past a missing or replaced signing key. It is recorded
 * in the chain (audit.key.rotate), endorsed by the previous key when that is at hand, published to
 * the witness, and verify trusts the new key from the rotation on and the old one before it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { openAuditDb, readEvents } from '../../src/audit/index.js';
import { generateSigningKey } from '../../src/audit/keys.js';
import { ev, openLog, tempState } from './helpers.js';

const BIN = resolve('bin/clawguard.js');
const cli = (args: string[], config: string) => spawnSync(process.execPath, [BIN, ...args, '--config', config], { encoding: 'utf8' });

async function witnessedLog(): Promise<{ state: string; witness: string; config: string }> {
  const root = tempState();
  const state = join(root, 'state');
  const witness = join(root, 'witness');
  mkdirSync(state);
  mkdirSync(witness);
  const config = join(root, 'clawguard.json');
  writeFileSync(config, JSON.stringify({ audit: { checkpointEvery: 10, witness: [{ dir: witness }] } }));
  const log = openLog(state, { checkpointEvery: 10, witness: [{ kind: 'dir', dir: witness }] });
  await log.checkAtStart();
  for (let i = 1; i <= 23; i++) await log.append(ev(i));
  await log.close();
  return { state, witness, config };
}

const held = (witness: string) => JSON.parse(readFileSync(join(witness, 'witness.json'), 'utf8')) as { keys: Array<{ keyId: string; reason: string; fromSize: number; endorsement?: string }>; latest: { treeSize: number; keyId: string } };

test('an endorsed rotation: recorded in the chain, signed from then on by the new key, pinned at the witness; verify and start pass', async () => {
  const { state, witness, config } = await witnessedLog();
  const oldKey = held(witness).keys[0]!.keyId;
  const r = cli(['audit', 'rotate-key', '--state-dir', state, '--json'], config);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.previousKeyId, oldKey);
  assert.equal(out.endorsed, true);
  assert.equal(out.seq, 24, 'its own record follows the 23 events');
  const w = held(witness);
  assert.deepEqual(w.keys.map((k) => [k.keyId, k.reason]), [[oldKey, 'genesis'], [out.keyId, 'rotate']]);
  assert.ok(w.keys[1]!.endorsement, 'endorsed by the previous key');
  assert.equal(w.latest.keyId, out.keyId);
  assert.equal(w.latest.treeSize, out.seq);
  const db = openAuditDb(state);
  const rotate = readEvents(db).find((e) => e.type === 'audit.key.rotate')!;
  assert.deepEqual([rotate.seq, rotate.payload!.previousKeyId, rotate.payload!.keyId, rotate.payload!.endorsed], [out.seq, oldKey, out.keyId, true]);
  db.close();
  const v = cli(['audit', 'verify', '--state-dir', state, '--json'], config);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.equal(JSON.parse(v.stdout).key.keyId, out.keyId);
  const again = openLog(state, { witness: [{ kind: 'dir', dir: witness }] });
  await again.checkAtStart();
  assert.equal((await again.append(ev(99))).seq, out.seq + 1);
  await again.close();
});

test('a missing key: start is refused, rotate-key without --key-lost refuses, with it the rotation is recorded as unendorsed and everything before stays verified under the old key', async () => {
  const { state, witness, config } = await witnessedLog();
  rmSync(join(state, 'audit-signing.key'));
  rmSync(join(state, 'audit-signing.pub'));
  const refused = openLog(state, { witness: [{ kind: 'dir', dir: witness }] });
  await assert.rejects(refused.checkAtStart(), /audit-signing\.key is missing/);
  await refused.close();
  assert.equal(existsSync(join(state, 'audit-signing.key')), false);
  const no = cli(['audit', 'rotate-key', '--state-dir', state], config);
  assert.equal(no.status, 2, no.stderr);
  assert.match(no.stderr, /pass --key-lost/);
  const yes = cli(['audit', 'rotate-key', '--key-lost', '--state-dir', state], config);
  assert.equal(yes.status, 0, yes.stdout + yes.stderr);
  assert.match(yes.stdout, /WITHOUT the previous key’s endorsement/);
  assert.match(yes.stdout, /published to the witness at dir /);
  assert.equal(held(witness).keys[1]!.reason, 'key-lost');
  const v = cli(['audit', 'verify', '--state-dir', state, '--json'], config);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  const start = openLog(state, { witness: [{ kind: 'dir', dir: witness }] });
  await start.checkAtStart();
  await start.close();
});

test('a replaced key is not rotated away without --key-lost, and never while a gateway runs on the state dir', async () => {
  const { state, config } = await witnessedLog();
  writeFileSync(join(state, 'audit-signing.key'), generateSigningKey().privateKey.export({ type: 'pkcs8', format: 'pem' }));
  rmSync(join(state, 'audit-signing.pub'));
  const r = cli(['audit', 'rotate-key', '--state-dir', state], config);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /is not the log's key/);
  writeFileSync(join(state, 'gateway.json'), JSON.stringify({ pid: process.pid }));
  const busy = cli(['audit', 'rotate-key', '--key-lost', '--state-dir', state], config);
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /a gateway \(pid \d+\) is running/);
});
