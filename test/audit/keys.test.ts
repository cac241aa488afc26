/**
 * A new signing key becomes the log's key in one durable step: staged, recorded in the key
 * history, then put in place. A crash at either point is completed or undone on the next open,
 * never mistaken for a deleted log or a replaced key; a staged key nobody recorded is discarded.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateSigningKey, keyPaths, stageSigningKey } from '../../src/audit/keys.js';
import { appendKeyStatement, makeKeyStatement } from '../../src/audit/key-history.js';
import { SqliteDatabase } from '../../src/store/index.js';
import { ev, openLog, stateKey, tempState } from './helpers.js';

test('a crash after staging a brand-new log’s first key, before recording it: the next start is a clean first start', async () => {
  const dir = tempState();
  stageSigningKey(dir, generateSigningKey());
  const log = openLog(dir);
  await log.checkAtStart();
  assert.equal(existsSync(`${keyPaths(dir).key}.new`), false, 'the unrecorded key is discarded');
  assert.equal((log.keyHistory()[0]!).keyId, stateKey(dir).keyId);
  await log.append(ev(1));
  await log.close();
});

test('a crash after recording a new key, before putting it in place: the next open completes it and the log starts', async () => {
  const dir = tempState();
  const log = openLog(dir, { checkpointEvery: 2 });
  for (let i = 1; i <= 4; i++) await log.append(ev(i));
  await log.close();
  const old = stateKey(dir);
  const next = generateSigningKey();
  // what rotate-key does up to the crash: stage, then record
  stageSigningKey(dir, next);
  const db = new SqliteDatabase(join(dir, 'clawguard.db'));
  appendKeyStatement(db, makeKeyStatement(next, { previous: { keyId: old.keyId, key: old }, segment: 1, fromSize: 5, reason: 'rotate' }));
  db.close();
  const again = openLog(dir, { checkpointEvery: 2 });
  await again.checkAtStart();
  assert.equal(stateKey(dir).keyId, next.keyId, 'the recorded key is in place');
  assert.match(readFileSync(keyPaths(dir).pub, 'utf8'), /BEGIN PUBLIC KEY/);
  assert.equal((await again.append(ev(5))).seq, 5);
  await again.close();
});
