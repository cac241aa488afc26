/**
 * Fixed-seed tampering of real witnessed logs: a random suffix deleted, random checkpoints deleted
 * with the events after them, a random event rewritten and everything re-signed with the state
 * dir's key, the key pair swapped and everything re-signed. Every attack on what the witness holds
 * fails verify naming the right seq and is refused at start; changes only after the witnessed head
 * (the window between publications) are not detectable, by construction, and are not reported.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyWithWitnesses, witnessTarget } from '../../src/audit/index.js';
import { makeKeyStatement } from '../../src/audit/key-history.js';
import { generateSigningKey, writeSigningKey } from '../../src/audit/keys.js';
import { SqliteDatabase } from '../../src/store/index.js';
import { mulberry32 } from '../helpers/prng.js';
import { ev, openLog, rawDb, resignCheckpoints, rewriteAndResign, stateKey, tempState } from './helpers.js';

const ATTACKS = ['none', 'suffix', 'checkpoints', 'rewrite', 'swap-keys', 'tail-only'] as const;

test('fixed-seed tampering: every attack on witnessed history is caught by verify (with the right seq) and by the start check', async () => {
  const rnd = mulberry32(20261204);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const seen = new Set<string>();
  for (let round = 0; round < 18; round++) {
    const root = tempState();
    const state = join(root, 'state');
    const wdir = join(root, 'witness');
    mkdirSync(state);
    mkdirSync(wdir);
    const every = int(4, 20);
    const witnessed = int(25, 90);
    const total = witnessed + int(0, 30);
    const witness = [{ kind: 'dir' as const, dir: wdir }];
    const log = openLog(state, { checkpointEvery: every, witness });
    await log.checkAtStart();
    for (let i = 1; i <= witnessed; i++) await log.append(ev(i));
    await log.close(); // publishes the head of `witnessed` (and stores a checkpoint there)
    const tail = openLog(state, { checkpointEvery: every });
    for (let i = witnessed + 1; i <= total; i++) await tail.append(ev(i));
    await tail.close();
    const attack = ATTACKS[round % ATTACKS.length]!;
    seen.add(attack);
    const db = rawDb(join(state, 'clawguard.db'));
    const cps = db.prepare('SELECT tree_size FROM audit_checkpoints ORDER BY tree_size').pluck().all() as number[];
    let expect: { seq: number; problem: RegExp } | undefined;
    if (attack === 'suffix') {
      const k = int(1, witnessed);
      db.prepare('DELETE FROM audit_events WHERE seq >= ?').run(k);
      db.prepare('DELETE FROM audit_checkpoints WHERE tree_size >= ?').run(k);
      expect = { seq: k, problem: new RegExp(`events ${k}\\.\\.${witnessed} are missing: the witness at dir .* saw a tree of ${witnessed}`) };
    } else if (attack === 'checkpoints') {
      const chosen = cps.filter((c) => c <= witnessed && rnd() < 0.5);
      const first = chosen[0] ?? cps.find((c) => c <= witnessed)!;
      for (const c of chosen.length ? chosen : [first]) db.prepare('DELETE FROM audit_checkpoints WHERE tree_size = ?').run(c);
      db.prepare('DELETE FROM audit_events WHERE seq > ?').run(first - 1);
      db.prepare('DELETE FROM audit_checkpoints WHERE tree_size >= ?').run(first);
      expect = { seq: first, problem: /are missing: the witness at dir/ };
    } else if (attack === 'rewrite') {
      const k = int(1, witnessed);
      rewriteAndResign(db, k, (c) => (c.resource = `${c.resource ?? ''}/forged`), stateKey(state));
      // every local checkpoint is re-signed consistently: the first thing that does not hold is the witness's head
      expect = { seq: witnessed, problem: /not what the witness at dir .* saw/ };
    } else if (attack === 'swap-keys') {
      const mine = generateSigningKey();
      writeSigningKey(state, mine);
      resignCheckpoints(db, mine);
      db.exec('DELETE FROM audit_keys');
      db.prepare('INSERT INTO audit_keys (key_id, statement) VALUES (?, ?)').run(mine.keyId, JSON.stringify(makeKeyStatement(mine, { segment: 1, fromSize: 0, reason: 'genesis' })));
      expect = { seq: cps[0]!, problem: /is signed by key [0-9a-f]+, not the trusted key/ };
    } else if (attack === 'tail-only' && total > witnessed) {
      const k = int(witnessed + 1, total);
      db.prepare('DELETE FROM audit_events WHERE seq >= ?').run(k);
      db.prepare('DELETE FROM audit_checkpoints WHERE tree_size >= ?').run(k);
    }
    db.close();
    const label = `round ${round} (${attack}; every ${every}, witnessed ${witnessed} of ${total})`;
    const v = await verifyWithWitnesses({ stateDir: state }, [witnessTarget(witness[0])]);
    const start = openLog(state, { witness });
    const refusal = await start.checkAtStart().then(() => undefined, (e: Error) => e.message);
    await start.close();
    if (!expect) {
      assert.equal(v.ok, true, `${label}: ${v.problem}`);
      assert.equal(refusal, undefined, `${label}: ${refusal}`);
      continue;
    }
    assert.equal(v.ok, false, `${label}: verify passed`);
    assert.equal(v.firstBadSeq, expect.seq, `${label}: ${v.problem}`);
    assert.match(v.problem!, expect.problem, label);
    assert.ok(refusal, `${label}: the start check passed`);
    assert.match(refusal!, /^the audit log (is broken at seq \d+|cannot be trusted):/, label);
  }
  assert.equal(seen.size, ATTACKS.length);
});

test('checkpoints are append-only like the events: a plain connection can neither delete nor change one', async () => {
  const dir = tempState();
  const log = openLog(dir, { checkpointEvery: 5 });
  for (let i = 1; i <= 12; i++) await log.append(ev(i));
  await log.close();
  const db = new SqliteDatabase(join(dir, 'clawguard.db'));
  assert.throws(() => db.prepare('DELETE FROM audit_checkpoints WHERE tree_size = 10').run(), /deleted only by pruning below the anchor/);
  assert.throws(() => db.prepare('DELETE FROM audit_checkpoints').run(), /deleted only by pruning/);
  assert.throws(() => db.prepare("UPDATE audit_checkpoints SET root = 'x'").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_keys').run(), /append-only/);
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM audit_checkpoints').get() as { n: number }).n, 3);
  db.close();
});
