/**
 * The flood guard on a real audit log: whatever an attacker varies (addresses within a /64, many
 * IPv4 sources, paths, claimed ids), the events written per window stay bounded, and the counts
 * add up to every rejection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { AuditLog, readEvents } from '../../src/audit/index.js';
import { RejectionAggregator, sourceOf } from '../../src/server/rejection-aggregator.js';
import { tempDir } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

const silent = pino({ level: 'silent' });

function rig(o: { maxImmediate?: number; maxKeys?: number } = {}) {
  const log = AuditLog.open({ stateDir: tempDir('cg-flood-'), pruneEveryMs: 0 });
  const agg = new RejectionAggregator({ sink: () => log, log: silent, windowMs: 60_000, ...o });
  const reject = (remoteAddress: string, i: number, code = 'unauthenticated') =>
    agg.record({ type: 'request.rejected', agentId: `claimed-${i}`, subject: 'unauthenticated', action: `GET /x/${i}`, resource: `/x/${i}`, decision: 'deny', payload: { code } }, { remoteAddress, door: 'operator', code });
  const events = () => readEvents(log.database!, { limit: 100_000 });
  const total = () => events().reduce((n, e) => n + (e.payload?.aggregated ? Number(e.payload.count) : 1), 0);
  return { log, agg, reject, events, total };
}

test('sources: IPv4 as is (also IPv4-mapped IPv6), IPv6 by its /64, anything else "unknown"', () => {
  assert.equal(sourceOf('10.1.2.3'), '10.1.2.3');
  assert.equal(sourceOf('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(sourceOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(sourceOf(undefined), 'unknown');
  assert.equal(sourceOf('not an address'), 'unknown');
});

test('a thousand addresses of one IPv6 /64 are one source: one event at once, one with the count', async () => {
  const { log, agg, reject, events, total } = rig();
  const rand = mulberry32(64);
  const hex = () => Math.floor(rand() * 0x10000).toString(16);
  await Promise.all(Array.from({ length: 1000 }, (_, i) => reject(`2001:db8:0:1:${hex()}:${hex()}:${hex()}:${hex()}`, i)));
  assert.equal(events().length, 1);
  await agg.flush();
  const all = events();
  assert.equal(all.length, 2);
  assert.equal(all[1]!.payload!.count, 999);
  assert.equal(all[1]!.payload!.source, '2001:db8:0:1::/64');
  assert.equal((all[1]!.payload!.claimedAgentIds as string[]).length, 5, 'samples bounded');
  assert.equal(total(), 1000);
  await log.close();
});

test('many distinct sources: events at once are capped per window, sources past the cap share one entry; nothing is lost from the counts', async () => {
  const { log, agg, reject, events, total } = rig({ maxImmediate: 20, maxKeys: 50 });
  const rand = mulberry32(4);
  const ip = () => `10.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
  const N = 5000;
  await Promise.all(Array.from({ length: N }, (_, i) => reject(ip(), i, i % 2 ? 'unauthenticated' : 'unknown_key')));
  assert.equal(events().length, 20, 'at most maxImmediate at once');
  await agg.flush();
  const all = events();
  assert.ok(all.length <= 20 + 50 + 2, `${all.length} events for ${N} rejections`);
  assert.ok(all.some((e) => e.payload?.source === '*'), 'the overflow entry');
  assert.equal(total(), N);
  // a new window: the next one is written at once again
  await reject('10.0.0.1', N);
  assert.equal(events().length, all.length + 1);
  await log.close();
});

test('an audit log that cannot be written: the guard neither throws nor rejects (the request is refused either way)', async () => {
  const { log, agg, reject } = rig();
  await log.close();
  await reject('10.0.0.9', 1);
  await reject('10.0.0.9', 2);
  await agg.close();
});
