import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRotation } from '../../src/config/index.js';
import { ManualClock, MISSED_AFTER_MS, nextDue } from '../../src/secrets/index.js';
import { agent, auditText, rig } from './helpers.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 2, 10, 12, 0, 0); // a Monday, noon UTC
const DEST = new URL('https://api.example.com/');
const grant = { agents: ['worker'], allowedHosts: ['api.example.com'] };

test('schedules: hourly, daily, weekly, monthly, durations and cron (UTC)', () => {
  const due = (s: string, from = T0) => new Date(nextDue(parseRotation(s)!, from)!).toISOString();
  assert.equal(due('hourly'), '2025-03-10T13:00:00.000Z');
  assert.equal(due('daily'), '2025-03-11T12:00:00.000Z');
  assert.equal(due('weekly'), '2025-03-17T12:00:00.000Z');
  assert.equal(due('monthly'), '2025-04-09T12:00:00.000Z', 'monthly = every 30 days');
  assert.equal(due('36h'), '2025-03-12T00:00:00.000Z');
  assert.equal(due('0 3 * * *'), '2025-03-11T03:00:00.000Z');
  assert.equal(due('0 3 * * *', Date.UTC(2025, 2, 10, 2, 59)), '2025-03-10T03:00:00.000Z');
  assert.equal(due('30 4 1 * *'), '2025-04-01T04:30:00.000Z');
});

test('locally generated secrets rotate dual-phase: new value, previous valid through the grace period, then revoked', async () => {
  const clock = new ManualClock(T0);
  const r = rig({ hook: { source: 'local', rotation: 'hourly', gracePeriod: '15m', generator: { length: 20 }, ...grant } }, { clock });
  const use = () => r.broker.inject(agent('worker'), 'hook', DEST);
  try {
    const v1 = await use();
    clock.advance(H - 1000);
    await r.broker.tick();
    assert.equal(await use(), v1, 'not due yet');
    clock.advance(1000);
    await r.broker.tick();
    const v2 = await use();
    assert.notEqual(v2, v1);
    const rot = r.audit.ofType('secret.rotate');
    assert.equal(rot.length, 1);
    assert.deepEqual({ ...(rot[0]!.payload as any) }, { secret: 'hook', mode: 'generate', changed: true, version: '2', previousVersion: '1', reason: 'scheduled', actor: 'scheduler', graceUntil: new Date(T0 + H + 15 * 60_000).toISOString() });
    assert.equal(await r.broker.accepts('hook', v1), true, 'phase 1: both valid');
    assert.equal(await r.broker.accepts('hook', v2), true);
    assert.equal(await r.broker.accepts('hook', 'something-else'), false);
    assert.equal(r.broker.status().secrets[0]!.graceVersions, 1);
    clock.advance(15 * 60_000);
    await r.broker.tick();
    assert.equal(await r.broker.accepts('hook', v1), false, 'phase 2: the previous value is revoked');
    assert.equal((r.store.db.prepare("SELECT COUNT(*) AS n FROM secret_values WHERE name = 'hook'").get() as { n: number }).n, 1, 'its sealed copy is deleted');
    assert.equal(r.audit.ofType('secret.revoke').length, 1);
    const s = r.broker.status().secrets[0]!;
    assert.equal(s.lastRotation, new Date(T0 + H).toISOString());
    assert.equal(s.nextRotation, new Date(T0 + 2 * H).toISOString());
    assert.equal(s.overdue, false);
    assert.equal(s.rotationMode, 'generate');
    assert.ok(!auditText(r.audit).includes(v1) && !auditText(r.audit).includes(v2));
    assert.equal(r.audit.ofType('secret.rotation.missed').length, 0);
  } finally {
    r.close();
  }
});

test('a rotation missed while the gateway was down is an event, then happens; overdue shows until it does', async () => {
  const clock = new ManualClock(T0);
  const first = rig({ k: { source: 'local', rotation: 'daily', generator: {}, ...grant } }, { clock });
  const dir = first.dir;
  const v1 = await first.broker.inject(agent('worker'), 'k', DEST);
  first.broker.stop();
  first.store.close();
  clock.advance(30 * H); // down from noon until 18:00 the next day; due at noon
  const second = rig({ k: { source: 'local', rotation: 'daily', generator: {}, ...grant } }, { clock, dir });
  try {
    const before = second.broker.status().secrets[0]!;
    assert.equal(before.overdue, true);
    assert.match(await second.registry.metrics(), /clawguard_secrets_rotation_overdue\{secret="k"\} 1/);
    assert.match(await second.registry.metrics(), /clawguard_secrets_rotation_age_seconds\{secret="k"\} 108000/);
    await second.broker.tick();
    const missed = second.audit.ofType('secret.rotation.missed');
    assert.equal(missed.length, 1);
    assert.equal((missed[0]!.payload as any).dueAt, new Date(T0 + 24 * H).toISOString());
    assert.equal((missed[0]!.payload as any).lateSeconds, 6 * 3600);
    assert.notEqual(await second.broker.inject(agent('worker'), 'k', DEST), v1);
    const after = second.broker.status().secrets[0]!;
    assert.equal(after.overdue, false);
    assert.equal(after.ageSeconds, 0);
    await second.broker.tick();
    assert.equal(second.audit.ofType('secret.rotation.missed').length, 1, 'recorded once');
  } finally {
    second.close();
  }
});

test('read-only sources are re-read when due: unchanged is a missed rotation (overdue), a new value is a new version', async () => {
  const clock = new ManualClock(T0);
  const env: NodeJS.ProcessEnv = { TOKEN: 'env-token-version-one' };
  const r = rig({ t: { source: 'env', env: 'TOKEN', rotation: 'daily', ...grant } }, { clock, env });
  try {
    await r.broker.inject(agent('worker'), 't', DEST);
    assert.equal(r.broker.status().secrets[0]!.rotationMode, 'reread');
    clock.advance(24 * H);
    await r.broker.tick();
    let s = r.broker.status().secrets[0]!;
    assert.equal(s.version, '1');
    clock.advance(MISSED_AFTER_MS + 1000);
    assert.equal(r.broker.status().secrets[0]!.overdue, true);
    const missed = r.audit.ofType('secret.rotation.missed');
    assert.equal(missed.length, 1);
    assert.match((missed[0]!.payload as any).reason, /read-only here, so it must be rotated where it lives/);
    env.TOKEN = 'env-token-version-two';
    clock.advance(H); // past the re-check delay
    await r.broker.tick();
    s = r.broker.status().secrets[0]!;
    assert.equal(s.version, '2');
    assert.equal(s.overdue, false);
    assert.equal(s.lastRotation, new Date(clock.now()).toISOString());
    assert.equal(await r.broker.inject(agent('worker'), 't', DEST), 'env-token-version-two');
    assert.equal(r.broker.redactor.redactText('env-token-version-one'), '[REDACTED:t]', 'the old value stays redacted');
    const forced = await r.broker.rotate('t');
    assert.deepEqual([forced.mode, forced.changed], ['reread', false]);
  } finally {
    r.close();
  }
});

test('cron schedules rotate at their times', async () => {
  const clock = new ManualClock(Date.UTC(2025, 2, 10, 2, 0));
  const r = rig({ c: { source: 'local', rotation: '0 3 * * *', generator: {}, ...grant } }, { clock });
  try {
    const v1 = await r.broker.inject(agent('worker'), 'c', DEST);
    clock.set(Date.UTC(2025, 2, 10, 2, 59));
    await r.broker.tick();
    assert.equal(await r.broker.inject(agent('worker'), 'c', DEST), v1);
    clock.set(Date.UTC(2025, 2, 10, 3, 0, 30));
    await r.broker.tick();
    assert.notEqual(await r.broker.inject(agent('worker'), 'c', DEST), v1);
    assert.equal(r.broker.status().secrets[0]!.nextRotation, '2025-03-11T03:00:00.000Z');
  } finally {
    r.close();
  }
});

test('local secrets without a generator: rotation is `secrets set`; due is a missed-rotation event; a forced rotate says what to do', async () => {
  const clock = new ManualClock(T0);
  const r = rig({ m: { source: 'local', rotation: '36h', gracePeriod: '10m', ...grant } }, { clock });
  try {
    await r.broker.set('m', 'operator-set-value-1');
    await assert.rejects(r.broker.rotate('m'), (e: any) => e.code === 'conflict' && /clawguard secrets set m/.test(e.message));
    clock.advance(37 * H);
    await r.broker.tick();
    assert.equal(r.audit.ofType('secret.rotation.missed').length, 1);
    assert.equal(r.broker.status().secrets[0]!.overdue, true);
    const res = await r.broker.set('m', 'operator-set-value-2');
    assert.deepEqual([res.previousVersion, res.version], ['1', '2']);
    assert.equal(await r.broker.accepts('m', 'operator-set-value-1'), true, 'dual-phase for set values too');
    assert.equal(r.broker.status().secrets[0]!.overdue, false);
    assert.equal(r.audit.ofType('secret.set').length, 2);
  } finally {
    r.close();
  }
});

test('a failing rotation keeps the current value, is an event, retries with backoff', async () => {
  const clock = new ManualClock(T0);
  let fail = true;
  let writes = 0;
  const r = rig({ w: { source: 'vault', rotation: 'hourly', generator: {}, ...grant } }, {
    clock,
    providers: {
      vault: {
        rotationMode: () => 'vault-write',
        fetch: async () => ({ value: 'vault-current-value-1', version: '1' }),
        rotate: async () => {
          writes++;
          if (fail) throw new Error('Vault answered 400: check-and-set parameter did not match the current version');
          return { value: 'vault-current-value-2', version: '2' };
        },
      },
    },
  });
  try {
    await r.broker.inject(agent('worker'), 'w', DEST);
    clock.advance(H);
    await r.broker.tick();
    assert.equal(writes, 1);
    assert.equal(await r.broker.inject(agent('worker'), 'w', DEST), 'vault-current-value-1', 'the current value stays in use');
    assert.match(r.broker.status().secrets[0]!.lastRotationError!, /check-and-set/);
    assert.equal(r.audit.ofType('secret.rotation.failed').length, 1);
    await r.broker.tick();
    assert.equal(writes, 1, 'no retry before the backoff');
    fail = false;
    clock.advance(H);
    await r.broker.tick();
    assert.equal(writes, 2);
    assert.equal(r.broker.status().secrets[0]!.version, '2');
    assert.equal(r.broker.status().secrets[0]!.lastRotationError, null);
  } finally {
    r.close();
  }
});
