import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadPublicKey, openAuditDb, verifyAuditLog, verifyAuditLogParallel } from '../../src/audit/index.js';
import { ev, flip, openLog, rawDb, tempState } from './helpers.js';

const DAY = 86_400_000;
let plain: string;
let pruned: string;

before(async () => {
  plain = tempState();
  const a = openLog(plain, { checkpointEvery: 37 });
  for (let w = 0; w < 10; w++) await Promise.all(Array.from({ length: 50 }, (_, i) => a.append(ev(w * 50 + i))));
  await a.close();
  // pruned up to an anchor that is not a power-of-two boundary
  pruned = tempState();
  let now = Date.now() - 100 * DAY;
  const b = openLog(pruned, { checkpointEvery: 45, retentionDays: 90, now: () => now });
  for (let w = 0; w < 3; w++) await Promise.all(Array.from({ length: 50 }, (_, i) => b.append(ev(w * 50 + i))));
  now = Date.now();
  for (let w = 0; w < 8; w++) await Promise.all(Array.from({ length: 50 }, (_, i) => b.append(ev(w * 50 + i))));
  assert.equal((await b.prune(now)).anchor, 150);
  await b.close();
});

function copyOf(dir: string): string {
  const d = tempState();
  for (const f of ['clawguard.db', 'audit-signing.key', 'audit-signing.pub']) copyFileSync(join(dir, f), join(d, f));
  return d;
}

async function both(dir: string) {
  const db = openAuditDb(dir);
  const key = loadPublicKey(dir)!;
  const one = verifyAuditLog(db, { publicKey: key });
  db.close();
  const many = await verifyAuditLogParallel({ stateDir: dir }, { publicKey: key, workers: 3, minEventsPerWorker: 1 });
  return { one, many };
}

test('verification on worker threads (aligned ranges folding their own subtrees) gives exactly the one-thread result', async () => {
  for (const dir of [plain, pruned]) {
    const { one, many } = await both(dir);
    assert.equal(one.ok, true, one.problem);
    assert.deepEqual(many, one);
  }
});

test('…and names the same first bad seq wherever the damage is', async () => {
  for (const [dir, seqs] of [[plain, [1, 64, 65, 128, 200, 256, 257, 444, 500]], [pruned, [151, 190, 256, 300, 549]]] as const) {
    for (const seq of seqs) {
      const d = copyOf(dir);
      const raw = rawDb(join(d, 'clawguard.db'));
      const v = raw.prepare('SELECT resource FROM audit_events WHERE seq = ?').pluck().get(seq) as string | null;
      if (v !== null) raw.prepare('UPDATE audit_events SET resource = ? WHERE seq = ?').run(flip(v), seq);
      else raw.prepare('UPDATE audit_events SET time = ? WHERE seq = ?').run('2000-01-01T00:00:00.000Z', seq);
      raw.close();
      const { one, many } = await both(d);
      assert.equal(one.firstBadSeq, seq, `${seq}: ${one.problem}`);
      assert.deepEqual(many, one, `seq ${seq}`);
    }
    const d = copyOf(dir);
    const raw = rawDb(join(d, 'clawguard.db'));
    const cps = raw.prepare('SELECT tree_size FROM audit_checkpoints ORDER BY tree_size').pluck().all() as number[];
    const cpSeq = cps[Math.floor(cps.length / 2)]!;
    const root = raw.prepare('SELECT root FROM audit_checkpoints WHERE tree_size = ?').pluck().get(cpSeq) as string;
    raw.prepare('UPDATE audit_checkpoints SET root = ? WHERE tree_size = ?').run(flip(root), cpSeq);
    raw.prepare('DELETE FROM audit_events WHERE seq = ?').run(cpSeq + 100);
    raw.close();
    const { one, many } = await both(d);
    assert.equal(one.firstBadSeq, cpSeq);
    assert.deepEqual(many, one);
  }
});
