import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentRegistry, createAgentClient, generateEd25519, importPrivateKey, importPublicKey, NonceCache, OperatorTokens, parseExpiry, publicKeyPem, RateLimiter, RunIdentities, verifyRequest, GATEWAY_COVERAGE, fieldLines } from '../../src/identity/index.js';
import { openSqlite } from '../../src/store/index.js';
import { tempDir } from '../helpers/gateway.js';
import { mulberry32 } from '../helpers/prng.js';

test('nonce cache: replay refused while live, forgotten after; bounded, failing closed when full of live nonces', () => {
  let t = 1000;
  const c = new NonceCache(3, () => t);
  c.checkAndStore('a', 'n1', 1060);
  assert.throws(() => c.checkAndStore('a', 'n1', 1060), { code: 'replayed_nonce' });
  c.checkAndStore('b', 'n1', 1060);
  c.checkAndStore('a', 'n2', 1010);
  assert.throws(() => c.checkAndStore('a', 'n3', 1060), { code: 'unavailable' }, 'full of live entries: refuse rather than forget');
  t = 1011;
  c.checkAndStore('a', 'n3', 1070);
  assert.equal(c.size, 3);
  t = 1061;
  c.checkAndStore('a', 'n1', 1120);
  assert.ok(c.size <= 3);
});

test('nonce cache at full speed: 5,000 signed requests a second for two minutes never fill it, and every replay inside the window is caught across rebuilds', () => {
  let t = 1_000_000;
  const c = new NonceCache(400_000, () => t);
  const skew = 60;
  let replaysCaught = 0;
  for (let second = 0; second < 120; second++) {
    for (let k = 0; k < 5000; k++) c.checkAndStore(`agent-${k % 7}`, `n-${second}-${k}`, Math.floor(t) + skew + 1);
    // replays: one from this second, one from 59 s ago (still live), one from 62 s ago (expired)
    for (const [back, live] of [[0, true], [59, true], [62, false]] as const) {
      if (second < back) continue;
      const k = (second * 31) % 5000;
      const replay = () => c.checkAndStore(`agent-${k % 7}`, `n-${second - back}-${k}`, Math.floor(t) + skew + 1);
      if (live) {
        assert.throws(replay, { code: 'replayed_nonce' }, `replay of second ${second - back} at second ${second}`);
        replaysCaught++;
      } else replay();
    }
    t += 1;
  }
  assert.equal(replaysCaught, 120 + 61);
  const live = c.size;
  assert.ok(live > 300_000 && live <= 310_000, `live entries track the window (${live})`);
  // same nonce under another key id is a different nonce
  c.checkAndStore('agent-other', 'n-119-0', t + 60);
});

test('nonce cache full of live entries refuses new nonces, still names replays as replays, and takes new ones once old ones expire', () => {
  let t = 5000.5;
  const c = new NonceCache(2000, () => t);
  for (let k = 0; k < 2000; k++) c.checkAndStore('a', `n${k}`, 5010);
  assert.throws(() => c.checkAndStore('a', 'late', 5010), { code: 'unavailable' });
  assert.throws(() => c.checkAndStore('a', 'n5', 5010), { code: 'replayed_nonce' }, 'a replay is still named a replay');
  t = 5010;
  c.checkAndStore('a', 'late', 5020);
  c.checkAndStore('a', 'n5', 5020);
  assert.equal(c.size, 2);
});

test('nonce cache against a plain model: random nonces, replays, expiries, rebuilds and a full table give the same answers (fixed seed)', () => {
  const rng = mulberry32(0x5eed);
  const MAX = 500;
  let t = 10_000;
  const c = new NonceCache(MAX, () => t);
  const model = new Map<string, number>();
  const used: Array<[string, string]> = [];
  let replays = 0;
  let full = 0;
  for (let step = 0; step < 40_000; step++) {
    // mostly small steps (the table fills up), now and then a long pause (everything expires)
    if (rng() < 0.0005) t += 30 + rng() * 60;
    else if (rng() < 0.01) t += rng();
    const replay = used.length > 0 && rng() < 0.2;
    const [k, n] = replay ? used[Math.floor(rng() * used.length)]! : [`k${Math.floor(rng() * 5)}`, `n${step}`];
    const until = Math.floor(t) + 1 + Math.floor(rng() * 60);
    const key = `${k}\u0000${n}`;
    const seen = model.get(key);
    let want = 'ok';
    if (seen !== undefined && seen > t) want = 'replayed_nonce';
    else if (seen === undefined && model.size >= MAX) {
      for (const [mk, u] of model) if (u <= t) model.delete(mk);
      if (model.size >= MAX) want = 'full';
    }
    let got = 'ok';
    try {
      c.checkAndStore(k, n, until);
    } catch (e) {
      got = (e as { code: string }).code;
    }
    if (want === 'full') {
      // full of live entries: refused, or taken into a slot that an expired entry left on its probe path
      assert.ok(got === 'unavailable' || got === 'ok', `step ${step}: ${got}`);
      if (got === 'unavailable') full++;
      else model.set(key, Math.ceil(until));
      continue;
    }
    assert.equal(got, want, `step ${step}: ${k}/${n} at ${t}`);
    if (got === 'ok') {
      model.set(key, Math.ceil(until));
      if (!replay) used.push([k, n]);
    } else replays++;
  }
  assert.ok(replays > 300, `replays of live nonces were exercised (${replays})`);
  assert.ok(full > 100, `the bound was reached (${full} refusals)`);
});

test('rate limiter: burst, refill, Retry-After, independent keys', () => {
  let t = 0;
  const r = new RateLimiter(2, 3, () => t);
  for (let i = 0; i < 3; i++) r.take('a');
  assert.throws(() => r.take('a'), (e: { code: string; retryAfter: number }) => e.code === 'rate_limited' && e.retryAfter === 1);
  r.take('b');
  t = 0.5;
  r.take('a');
  assert.throws(() => r.take('a'), { code: 'rate_limited' });
});

test('registry: lastSeen persisted by flush; expiry and revocation; ids never reused', () => {
  const dir = tempDir('cg-reg-');
  const file = join(dir, 'db.sqlite');
  let t = Date.parse('2030-01-01T00:00:00Z');
  const db = openSqlite({ file });
  const reg = new AgentRegistry(db, () => t, 60_000);
  const { publicKey } = generateEd25519();
  reg.register({ agentId: 'a1', publicKey: publicKeyPem(publicKey), expires: '1h', capabilities: ['x', 'x', 'y'] });
  assert.deepEqual(reg.get('a1')!.capabilities, ['x', 'y']);
  reg.touch('a1');
  reg.close();
  db.close();
  const db2 = openSqlite({ file });
  const reg2 = new AgentRegistry(db2, () => t);
  assert.equal(reg2.get('a1')!.lastSeen, new Date(t).toISOString(), 'lastSeen survived a restart');
  assert.equal(reg2.get('a1')!.status, 'active');
  t += 3600_000;
  assert.equal(reg2.get('a1')!.status, 'expired');
  assert.throws(() => reg2.register({ agentId: 'a1', publicKey }), { code: 'conflict' });
  reg2.revoke('a1', 'done');
  assert.equal(reg2.get('a1')!.status, 'revoked');
  assert.throws(() => reg2.revoke('zz'), { code: 'not_found' });
  assert.throws(() => reg2.register({ agentId: 'a2', publicKey, signatureAlgorithm: 'rsa' }), { code: 'bad_request' });
  assert.throws(() => reg2.register({ agentId: 'a2', publicKey, capabilities: ['bad cap'] }), { code: 'bad_request' });
  assert.throws(() => reg2.register({ agentId: 'run:x', publicKey }), { code: 'bad_request' });
  reg2.close();
  db2.close();
});

test('expiry parsing: durations, ISO dates, refusals', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(parseExpiry('30d', now), '2030-01-31T00:00:00.000Z');
  assert.equal(parseExpiry(60, now), '2030-01-01T00:01:00.000Z');
  assert.equal(parseExpiry('2030-06-01', now), '2030-06-01T00:00:00.000Z');
  assert.throws(() => parseExpiry('2029-01-01', now), /in the past/);
  assert.throws(() => parseExpiry('soon', now), /expected a duration/);
});

test('keys: non-Ed25519 and unreadable keys are clear 400s', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.throws(() => importPublicKey(rsa.publicKey), /Ed25519 key is required/);
  assert.throws(() => importPrivateKey(rsa.privateKey), /Ed25519 key is required/);
  assert.throws(() => importPrivateKey(generateEd25519().publicKey), /public key/);
  assert.throws(() => importPrivateKey('garbage'), { code: 'bad_request' });
  assert.throws(() => importPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'), { code: 'bad_request' });
  assert.throws(() => importPublicKey('abc'), { code: 'bad_request' });
  const kp = generateEd25519();
  assert.ok(importPublicKey(kp.privateKey).equals(kp.publicKey), 'a private key yields its public key');
  assert.ok(importPublicKey(JSON.stringify(kp.publicKey.export({ format: 'jwk' }))).equals(kp.publicKey));
  assert.ok(importPrivateKey(JSON.stringify(kp.privateKey.export({ format: 'jwk' }))).equals(kp.privateKey));
});

test('client signHeaders: what the gateway policy demands, verifiable by the verifier', () => {
  const kp = generateEd25519();
  const c = createAgentClient({ gatewayUrl: 'https://gw.example:8443', agentId: 'agent-1', privateKey: kp.privateKey, expiresInSeconds: 30, coverHeaders: ['x-trace'] });
  const body = Buffer.from('{"a":1}');
  const h = c.signHeaders('post', 'https://gw.example:8443/v1/tools/x?y=1', { 'Content-Type': 'application/json', 'X-Trace': 't1' }, body);
  assert.match(h['signature-input']!, /^sig1=\("@method" "@target-uri" "content-digest" "content-type" "x-trace"\);created=\d+;expires=\d+;nonce="[^"]+";alg="ed25519";keyid="agent-1"$/);
  const v = verifyRequest({ method: 'POST', targetUri: 'https://gw.example:8443/v1/tools/x?y=1', headers: fieldLines(h), body }, { now: Math.floor(Date.now() / 1000), skewSeconds: 60, required: GATEWAY_COVERAGE, resolveKey: () => ({ key: kp.publicKey }) });
  assert.equal(v.keyid, 'agent-1');
  const h2 = c.signHeaders('post', 'https://gw.example:8443/v1/tools/x?y=1', { 'Content-Type': 'application/json', 'X-Trace': 't1' }, body);
  assert.notEqual(h2['signature-input'], h['signature-input'], 'a fresh nonce each time');
});

test('operator tokens: constant-time lookup by id, scopes stored as given, secrets never stored', () => {
  const db = openSqlite({ file: join(tempDir('cg-op-'), 'db.sqlite') });
  const ops = new OperatorTokens(db, ['admin-secret']);
  assert.deepEqual(ops.authenticate('admin-secret')?.scopes, ['admin']);
  assert.equal(ops.authenticate('admin-secre'), undefined);
  const t = ops.create({ name: 'ci', scopes: 'read,write' });
  assert.deepEqual(ops.authenticate(t.token)?.scopes, ['read', 'write']);
  const row = db.prepare('SELECT * FROM identity_operator_tokens').get() as Record<string, unknown>;
  assert.ok(!JSON.stringify(row).includes(t.token.split('.')[1]!), 'only a digest is stored');
  assert.equal(ops.authenticate(t.token.replace(/^cg_opt_[0-9a-f]{16}/, 'cg_opt_0000000000000000')), undefined);
  assert.throws(() => ops.create({ name: '', scopes: 'read' }), { code: 'bad_request' });
  db.close();
});

test('run identities: nothing issued for an unknown profile; clamped to the profile', () => {
  const runs = new RunIdentities(undefined, () => ({ p: { trustLevel: 'limited', capabilities: ['a'], timeoutSeconds: 10 } as never }));
  runs.issue({ kind: 'run', agentId: 'run:r1', runId: 'r1', profile: 'nope', trustLevel: 'limited', capabilities: [], door: 'run' });
  assert.throws(() => runs.verify({ kind: 'run', agentId: 'run:r1', runId: 'r1', profile: 'nope', trustLevel: 'limited', capabilities: [], door: 'run' }), { code: 'identity_revoked' });
  runs.issue({ kind: 'run', agentId: 'run:r2', runId: 'r2', profile: 'p', trustLevel: 'trusted', capabilities: ['a', 'b'], door: 'run' });
  assert.throws(() => runs.verify({ kind: 'run', agentId: 'run:r2', runId: 'r2', profile: 'p', trustLevel: 'trusted', capabilities: ['a'], door: 'run' }), /trust level trusted/);
  assert.throws(() => runs.verify({ kind: 'run', agentId: 'run:r2', runId: 'r2', profile: 'p', trustLevel: 'limited', capabilities: ['a', 'b'], door: 'run' }), /capabilities its run was not issued: b/);
  runs.verify({ kind: 'run', agentId: 'run:r2', runId: 'r2', profile: 'p', trustLevel: 'limited', capabilities: ['a'], door: 'run' });
  assert.throws(() => runs.verify({ kind: 'run', agentId: 'run:r9', runId: 'r2', profile: 'p', trustLevel: 'limited', capabilities: [], door: 'run' }), { code: 'unauthenticated' });
  runs.revoke('r2');
  assert.throws(() => runs.verify({ kind: 'run', agentId: 'run:r2', runId: 'r2', profile: 'p', trustLevel: 'limited', capabilities: ['a'], door: 'run' }), /ended with its run/);
});

test('the package exports the client as "clawguard/client"', async () => {
  const spec = 'clawguard/client';
  const m = (await import(spec)) as { createAgentClient?: unknown };
  assert.equal(typeof m.createAgentClient, 'function');
});
