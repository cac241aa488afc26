import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { masterKeyPaths } from '../../src/secrets/index.js';
import { agent, auditText, rig, tempDir } from './helpers.js';
import { type AwsLookalike, sigv4Signature, startAwsLookalike } from './lookalikes/aws.js';

// AWS cannot be reached from here: these run the real AWS SDK v3 against the Secrets Manager / KMS
// look-alike in ./lookalikes/aws.ts, which verifies every request's SigV4 signature.
let aws: AwsLookalike;
const DEST = new URL('https://api.openai.com/v1/models');
const grant = { agents: ['worker'], allowedHosts: ['api.openai.com'] };
let conn: { region: string; endpoint: string };

before(async () => {
  aws = await startAwsLookalike({ region: 'eu-west-1' });
  conn = { region: aws.region, endpoint: aws.url };
  // The standard credential chain, through its first link: the environment.
  process.env.AWS_ACCESS_KEY_ID = aws.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = aws.credentials.secretAccessKey;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  aws.putSecret('prod/openai', 'sk-aws-current-111111');
  aws.putSecret('prod/json', JSON.stringify({ apiKey: 'sk-aws-json-222222', user: 'svc' }));
  aws.putSecret('prod/norotate', 'static-value-333333', { rotationEnabled: false });
});
after(() => aws.close());

test('the look-alike computes SigV4 exactly as AWS documents it (the published IAM ListUsers example)', () => {
  const amzDate = '20150830T123600Z';
  const { signature, canonicalRequest } = sigv4Signature({
    method: 'GET',
    path: '/',
    query: 'Action=ListUsers&Version=2010-05-08',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', host: 'iam.amazonaws.com', 'x-amz-date': amzDate },
    signedHeaders: ['content-type', 'host', 'x-amz-date'],
    payloadHash: createHash('sha256').update('').digest('hex'),
    amzDate,
    region: 'us-east-1',
    service: 'iam',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  });
  assert.equal(createHash('sha256').update(canonicalRequest).digest('hex'), 'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59');
  assert.equal(signature, '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7');
});

test('Secrets Manager: GetSecretValue over AWS JSON 1.1, signed; version id tracked; JSON field; version stage', async () => {
  const r = rig({
    openai: { source: 'secrets-manager', secretId: 'prod/openai', ...conn, ...grant },
    json: { source: 'aws-secrets-manager', secretId: 'prod/json', field: 'apiKey', ...conn, ...grant },
  });
  try {
    const n = aws.requests.length;
    assert.equal(await r.broker.inject(agent('worker'), 'openai', DEST), 'sk-aws-current-111111');
    assert.equal(await r.broker.inject(agent('worker'), 'json', DEST), 'sk-aws-json-222222');
    const reqs = aws.requests.slice(n);
    assert.deepEqual(reqs.map((x) => [x.target, x.signatureOk]), [['secretsmanager.GetSecretValue', true], ['secretsmanager.GetSecretValue', true]]);
    assert.deepEqual(reqs[0]!.body, { SecretId: 'prod/openai', VersionStage: 'AWSCURRENT' });
    const s = r.broker.status().secrets.find((x) => x.name === 'openai')!;
    assert.equal(s.source, 'aws-secrets-manager');
    assert.equal(s.sourceSpelling, 'secrets-manager');
    assert.equal(s.version, aws.secrets.get('prod/openai')!.versions[0]!.id);
  } finally {
    r.close();
  }
});

test('a request signed with the wrong secret key is refused by the look-alike, and the secret fails closed', async () => {
  const good = process.env.AWS_SECRET_ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = 'not-the-right-secret-key-0000000000000000';
  const r = rig({ openai: { source: 'secrets-manager', secretId: 'prod/openai', ...conn, ...grant } });
  try {
    const n = aws.requests.length;
    await assert.rejects(r.broker.inject(agent('worker'), 'openai', DEST), (e: any) => e.code === 'secret_unavailable' && /InvalidSignatureException/.test(e.message) && /does not match the signature you provided/.test(e.message));
    assert.equal(aws.requests[n]!.signatureOk, false);
  } finally {
    process.env.AWS_SECRET_ACCESS_KEY = good;
    r.close();
  }
});

test('Secrets Manager errors and outages fail closed', async () => {
  const r = rig({
    missing: { source: 'secrets-manager', secretId: 'prod/none', ...conn, ...grant },
    stage: { source: 'secrets-manager', secretId: 'prod/norotate', versionStage: 'AWSPENDING', ...conn, ...grant },
    up: { source: 'secrets-manager', secretId: 'prod/openai', ...conn, ...grant },
  });
  try {
    await assert.rejects(r.broker.inject(agent('worker'), 'missing', DEST), /ResourceNotFoundException.*can't find the specified secret/);
    await assert.rejects(r.broker.inject(agent('worker'), 'stage', DEST), /staging label: AWSPENDING/);
    aws.outage = 500;
    await assert.rejects(r.broker.inject(agent('worker'), 'up', DEST), /HTTP 500/);
    assert.equal(r.broker.status().secrets.find((s) => s.name === 'up')!.health, 'unavailable');
  } finally {
    aws.outage = undefined;
    r.close();
  }
});

test('rotation: RotateSecret makes a new AWSCURRENT; the old value stays valid through the grace period; a secret without rotation records the failure', async () => {
  aws.putSecret('prod/rotating', 'sk-before-rotation-444444');
  const r = rig({
    rot: { source: 'secrets-manager', secretId: 'prod/rotating', rotation: 'weekly', gracePeriod: '30m', ...conn, ...grant },
    fixed: { source: 'secrets-manager', secretId: 'prod/norotate', rotation: 'weekly', ...conn, ...grant },
  });
  try {
    const before = await r.broker.inject(agent('worker'), 'rot', DEST);
    const n = aws.requests.length;
    const res = await r.broker.rotate('rot');
    assert.equal(res.mode, 'aws-rotate');
    assert.equal(res.changed, true);
    assert.deepEqual(aws.requests.slice(n).map((x) => x.target), ['secretsmanager.RotateSecret', 'secretsmanager.GetSecretValue']);
    assert.equal(aws.requests[n]!.body.SecretId, 'prod/rotating');
    assert.equal(aws.requests[n]!.body.RotateImmediately, true);
    const after = await r.broker.inject(agent('worker'), 'rot', DEST);
    assert.notEqual(after, before);
    assert.match(after, /^rotated-/);
    assert.equal(await r.broker.accepts('rot', before), true);
    r.clock.advanceSeconds(1801);
    await r.broker.tick();
    assert.equal(await r.broker.accepts('rot', before), false);
    await assert.rejects(r.broker.rotate('fixed'), /InvalidRequestException \(HTTP 400\): No Lambda rotation function/);
    const f = r.broker.status().secrets.find((s) => s.name === 'fixed')!;
    assert.match(f.lastRotationError!, /InvalidRequestException/);
    assert.equal(r.audit.ofType('secret.rotation.failed').length, 1);
    assert.ok(!auditText(r.audit).includes(after) && !auditText(r.audit).includes(before));
  } finally {
    r.close();
  }
});

test('aws-kms: a data key from GenerateDataKey, stored only wrapped, unwrapped with Decrypt after a restart; rotation makes a new one', async () => {
  aws.addKey('clawguard');
  const dir = tempDir('cg-kms-');
  const cfg = { encryption: { source: 'aws-kms', keyId: 'alias/clawguard', rotation: 'daily', gracePeriod: '2h', ...conn, ...grant } };
  const a = rig(cfg, { dir });
  let first: string;
  try {
    const n = aws.requests.length;
    first = await a.broker.inject(agent('worker'), 'encryption', DEST);
    assert.equal(Buffer.from(first, 'base64').length, 32);
    assert.equal(aws.requests[n]!.target, 'TrentService.GenerateDataKey');
    assert.deepEqual(aws.requests[n]!.body, { KeyId: 'alias/clawguard', KeySpec: 'AES_256', EncryptionContext: { clawguard_secret: 'encryption' } });
    const row = a.store.db.prepare("SELECT enc, ciphertext FROM secret_values WHERE name = 'encryption'").get() as { enc: string; ciphertext: Buffer };
    assert.equal(row.enc, 'kms');
    assert.equal(row.ciphertext.includes(Buffer.from(first, 'base64')), false, 'only the wrapped key is stored');
  } finally {
    a.close();
  }
  const b = rig(cfg, { dir });
  try {
    const n = aws.requests.length;
    assert.equal(await b.broker.inject(agent('worker'), 'encryption', DEST), first, 'same data key after a restart');
    assert.equal(aws.requests[n]!.target, 'TrentService.Decrypt');
    const res = await b.broker.rotate('encryption');
    assert.equal(res.mode, 'kms-data-key');
    assert.equal(res.version, '2');
    const second = await b.broker.inject(agent('worker'), 'encryption', DEST);
    assert.notEqual(second, first);
    assert.equal(await b.broker.accepts('encryption', first), true, 'the previous data key stays usable through the grace period');
  } finally {
    b.close();
  }
});

test('the local store\'s master key wrapped by KMS: no plaintext key file; unavailable when KMS is down', async () => {
  aws.addKey('master');
  const dir = tempDir('cg-kmsmk-');
  const cfg = { db: { source: 'local', ...grant }, wrap: { source: 'aws-kms', keyId: 'alias/master', wrapMasterKey: true, ...conn } };
  const a = rig(cfg, { dir });
  try {
    await a.broker.set('db', 'local-under-kms-555555');
    const p = masterKeyPaths(dir);
    assert.equal(existsSync(p.plain), false);
    const doc = JSON.parse(readFileSync(p.wrapped, 'utf8'));
    assert.equal(doc.keyId.startsWith('arn:aws:kms:eu-west-1:'), true);
    assert.equal(a.broker.status().masterKey.source, 'kms');
  } finally {
    a.close();
  }
  const b = rig(cfg, { dir });
  try {
    assert.equal(await b.broker.inject(agent('worker'), 'db', DEST), 'local-under-kms-555555');
  } finally {
    b.close();
  }
  aws.outage = 503;
  const c = rig(cfg, { dir });
  try {
    await assert.rejects(c.broker.inject(agent('worker'), 'db', DEST), /KMS Decrypt .*\(HTTP 503\)/);
    assert.equal(c.broker.status().masterKey.available, false);
  } finally {
    aws.outage = undefined;
    c.close();
  }
});
