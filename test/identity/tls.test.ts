import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import pino from 'pino';
import { generate } from 'selfsigned';
import { parseConfig } from '../../src/config/index.js';
import { Agent, request } from 'undici';
import { createAgentClient, generateEd25519, publicKeyPem } from '../../src/identity/index.js';
import { Gateway } from '../../src/server/index.js';
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js';
import { TOOLS_PROFILE, ZERO_TRUST } from './helpers.js';

let g: TestGateway;
let ca: Buffer;
before(async () => {
  g = await startGateway({ gateway: { tls: { auto: true } }, agents: { tools: TOOLS_PROFILE }, ...ZERO_TRUST({ encryptAllTraffic: true }) });
  ca = readFileSync(join(g.gw.opts.stateDir, 'tls-cert.pem'));
});
after(async () => g?.close());

function handshake(port: number, opts: { minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<{ ok: true; protocol: string | null } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts }, () => {
      const protocol = s.getProtocol();
      s.end();
      resolve({ ok: true, protocol });
    });
    s.on('error', (e) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

test('tls.auto: a self-signed certificate in the state dir (key 0600); TLS 1.3 accepted, TLS 1.2 refused', async () => {
  assert.match(g.url, /^https:/);
  assert.equal(statSync(join(g.gw.opts.stateDir, 'tls-key.pem')).mode & 0o777, 0o600);
  const port = Number(new URL(g.url).port);
  const v13 = await handshake(port, { minVersion: 'TLSv1.3' });
  assert.deepEqual(v13, { ok: true, protocol: 'TLSv1.3' });
  const v12 = await handshake(port, { maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' });
  assert.equal(v12.ok, false, 'a TLS 1.2-only client cannot connect');
});

test('HSTS on HTTPS responses; agents are registered and sign their requests over TLS', async () => {
  const dispatcher = new Agent({ connect: { ca } });
  const { privateKey, publicKey } = generateEd25519();
  const reg = await request(`${g.url}/v1/agents`, { method: 'POST', dispatcher, headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agentId: 'alice', publicKey: publicKeyPem(publicKey), profile: 'tools' }) });
  assert.equal(reg.statusCode, 201);
  assert.match(String(reg.headers['strict-transport-security']), /max-age=\d+/);
  await reg.body.dump();
  await dispatcher.close();
  const c = createAgentClient({ gatewayUrl: g.url, agentId: 'alice', privateKey, ca });
  const r = await c.request('POST', '/v1/tools/system.time', {});
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/);
  await c.close();
});

async function startFails(raw: unknown, host: string, extra: { tlsCert?: string; tlsKey?: string } = {}): Promise<string | undefined> {
  const dir = tempDir('cg-tls-');
  const gw = new Gateway({ config: parseConfig(raw, join(dir, 'clawguard.json')), stateDir: join(dir, 'state'), host, port: 0, logger: pino({ level: 'silent' }), ...extra });
  try {
    await gw.start();
    return undefined;
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  } finally {
    await gw.stop(0);
  }
}

test('plaintext refused on a non-loopback bind and with encryptAllTraffic; no authentication refused off loopback', async () => {
  assert.match((await startFails({}, '0.0.0.0')) ?? 'started', /^config_invalid: refusing to serve plaintext HTTP on 0\.0\.0\.0: the bind address is not loopback/);
  assert.match((await startFails(ZERO_TRUST({ encryptAllTraffic: true }), '127.0.0.1')) ?? 'started', /^config_invalid: .*encryptAllTraffic is true/);
  assert.match((await startFails({ gateway: { tls: { auto: true } }, ...ZERO_TRUST({ requireAuthentication: false }) }, '0.0.0.0')) ?? 'started', /^config_invalid: refusing to bind 0\.0\.0\.0 with .*requireAuthentication false/);
  assert.equal(await startFails(ZERO_TRUST({ requireAuthentication: false }), '127.0.0.1'), undefined, 'loopback without authentication is allowed');
});

test('--tls-cert/--tls-key: the given certificate is served; a missing half is a clear error', async () => {
  const dir = tempDir('cg-tlsfiles-');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }] } as never);
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private);
  const gw = new Gateway({ config: parseConfig({}, join(dir, 'clawguard.json')), stateDir: join(dir, 'state'), port: 0, logger: pino({ level: 'silent' }), tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') });
  try {
    const info = await gw.start();
    assert.match(info.url, /^https:/);
    const peer = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: info.port, ca: pems.cert, minVersion: 'TLSv1.3' }, () => {
        const fp = s.getPeerCertificate().fingerprint256;
        s.end();
        resolve(fp);
      });
      s.on('error', reject);
    });
    assert.ok(peer.length > 0);
  } finally {
    await gw.stop(0);
  }
  assert.match((await startFails({}, '127.0.0.1', { tlsCert: join(dir, 'cert.pem') })) ?? 'started', /needs both a certificate and a key/);
});
