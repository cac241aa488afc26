/**
 * LOOK-ALIKE of AWS Secrets Manager and AWS KMS (no AWS service is reachable from this machine):
 * one HTTP server speaking the AWS JSON 1.1 protocol as AWS documents it — POST / with
 * Content-Type application/x-amz-json-1.1 and X-Amz-Target "secretsmanager.<Op>" or
 * "TrentService.<Op>", errors as {"__type": ..., "message": ...} with x-amzn-ErrorType — and every
 * request's Signature Version 4 actually recomputed and compared (credential scope, signed
 * headers, payload hash, date skew). Operations: GetSecretValue (by stage or version id),
 * RotateSecret (acts as the rotation function would: a new AWSCURRENT, the old one AWSPREVIOUS),
 * GenerateDataKey and Decrypt (with encryption context). Test tree only.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

const sha256hex = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const hmac = (k: string | Buffer, s: string) => createHmac('sha256', k).update(s, 'utf8').digest();

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, upper-case hex. */
function uriEncode(s: string, keepSlash: boolean): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) return c;
      return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

export interface SigV4Input {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  signedHeaders: string[];
  payloadHash: string;
  amzDate: string;
  region: string;
  service: string;
  secretAccessKey: string;
}

/** The SigV4 signature of a request (non-S3 services: each path segment URI-encoded twice). */
export function sigv4Signature(i: SigV4Input): { signature: string; canonicalRequest: string } {
  const canonicalUri = i.path === '' ? '/' : i.path.split('/').map((seg) => uriEncode(uriEncode(decodeURIComponent(seg), false), false)).join('/');
  const canonicalQuery = i.query
    ? i.query
        .split('&')
        .filter(Boolean)
        .map((kv) => {
          const [k, v = ''] = kv.split('=');
          return [uriEncode(decodeURIComponent(k!.replace(/\+/g, ' ')), false), uriEncode(decodeURIComponent(v.replace(/\+/g, ' ')), false)] as const;
        })
        .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join('&')
    : '';
  const canonicalHeaders = i.signedHeaders.map((h) => `${h}:${(i.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [i.method, canonicalUri, canonicalQuery, canonicalHeaders, i.signedHeaders.join(';'), i.payloadHash].join('\n');
  const date = i.amzDate.slice(0, 8);
  const scope = `${date}/${i.region}/${i.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', i.amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${i.secretAccessKey}`, date), i.region), i.service), 'aws4_request');
  return { signature: createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex'), canonicalRequest };
}

interface SmVersion {
  id: string;
  value: string;
  stages: Set<string>;
  created: Date;
}

export interface AwsLookalike {
  url: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  secrets: Map<string, { arn: string; versions: SmVersion[]; rotationEnabled: boolean }>;
  keys: Map<string, Buffer>;
  requests: Array<{ target: string; body: any; signatureOk: boolean; service: string }>;
  /** When set, every request fails with this status (an outage). */
  outage: number | undefined;
  putSecret(name: string, value: string, opts?: { rotationEnabled?: boolean }): string;
  addKey(alias: string): string;
  close(): Promise<void>;
}

class AwsError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
  }
}

export async function startAwsLookalike(opts: { region?: string } = {}): Promise<AwsLookalike> {
  const region = opts.region ?? 'eu-west-1';
  const account = '123456789012';
  const keyIds: string[] = [];
  const a: AwsLookalike = {
    url: '',
    region,
    credentials: { accessKeyId: 'AKIALOOKALIKE000001', secretAccessKey: randomBytes(30).toString('base64') },
    secrets: new Map(),
    keys: new Map(),
    requests: [],
    outage: undefined,
    putSecret(name, value, o = {}) {
      const s = a.secrets.get(name) ?? { arn: `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomBytes(3).toString('hex')}`, versions: [], rotationEnabled: o.rotationEnabled ?? true };
      for (const v of s.versions) {
        if (v.stages.delete('AWSCURRENT')) v.stages.add('AWSPREVIOUS');
        else v.stages.delete('AWSPREVIOUS');
      }
      const id = randomUUID();
      s.versions.push({ id, value, stages: new Set(['AWSCURRENT']), created: new Date() });
      a.secrets.set(name, s);
      return id;
    },
    addKey(alias) {
      const id = randomUUID();
      keyIds.push(id);
      a.keys.set(id, randomBytes(32));
      a.keys.set(`alias/${alias}`, a.keys.get(id)!);
      aliases.set(`alias/${alias}`, id);
      return id;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
  const aliases = new Map<string, string>();
  const keyArn = (id: string) => `arn:aws:kms:${region}:${account}:key/${id}`;
  const resolveKey = (k: unknown): string => {
    if (typeof k !== 'string') throw new AwsError('ValidationException', '1 validation error detected: Value null at \'keyId\' failed to satisfy constraint: Member must not be null');
    const id = aliases.get(k) ?? (k.startsWith('arn:aws:kms:') ? k.split('/').pop()! : k);
    if (!keyIds.includes(id)) throw new AwsError('NotFoundException', `Key '${keyArn(k)}' does not exist`);
    return id;
  };
  const contextAad = (ctx: unknown) => Buffer.from(JSON.stringify(Object.entries((ctx ?? {}) as Record<string, string>).sort(([x], [y]) => (x < y ? -1 : 1))));

  const ops: Record<string, (b: any) => unknown> = {
    'secretsmanager.GetSecretValue': (b) => {
      const s = [...a.secrets.entries()].find(([n, x]) => n === b.SecretId || x.arn === b.SecretId)?.[1];
      if (!s) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      const stage = b.VersionId ? undefined : (b.VersionStage ?? 'AWSCURRENT');
      const v = b.VersionId ? s.versions.find((x) => x.id === b.VersionId) : s.versions.find((x) => x.stages.has(stage!));
      if (!v) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: " + stage);
      return { ARN: s.arn, Name: [...a.secrets.entries()].find(([, x]) => x === s)![0], VersionId: v.id, SecretString: v.value, VersionStages: [...v.stages], CreatedDate: v.created.getTime() / 1000 };
    },
    'secretsmanager.RotateSecret': (b) => {
      const entry = [...a.secrets.entries()].find(([n, x]) => n === b.SecretId || x.arn === b.SecretId);
      if (!entry) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      const [name, s] = entry;
      if (!s.rotationEnabled && !b.RotationLambdaARN) throw new AwsError('InvalidRequestException', 'No Lambda rotation function ARN is associated with this secret.');
      // What the secret's rotation function would do: create AWSPENDING, test it, promote it to AWSCURRENT.
      const id = a.putSecret(name, `rotated-${randomBytes(18).toString('base64url')}`);
      return { ARN: s.arn, Name: name, VersionId: id };
    },
    'TrentService.GenerateDataKey': (b) => {
      const id = resolveKey(b.KeyId);
      const n = b.NumberOfBytes ?? (b.KeySpec === 'AES_128' ? 16 : b.KeySpec === 'AES_256' ? 32 : undefined);
      if (!n) throw new AwsError('ValidationException', 'Please specify either number of bytes or key spec.');
      const plain = randomBytes(n);
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', a.keys.get(id)!, iv);
      c.setAAD(contextAad(b.EncryptionContext));
      const ct = Buffer.concat([c.update(plain), c.final()]);
      const blob = Buffer.concat([Buffer.from(id, 'utf8'), iv, c.getAuthTag(), ct]);
      return { CiphertextBlob: blob.toString('base64'), Plaintext: plain.toString('base64'), KeyId: keyArn(id) };
    },
    'TrentService.Decrypt': (b) => {
      const blob = Buffer.from(String(b.CiphertextBlob ?? ''), 'base64');
      const id = blob.subarray(0, 36).toString('utf8');
      if (!keyIds.includes(id)) throw new AwsError('InvalidCiphertextException', '');
      if (b.KeyId !== undefined && resolveKey(b.KeyId) !== id) throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      try {
        const d = createDecipheriv('aes-256-gcm', a.keys.get(id)!, blob.subarray(36, 48));
        d.setAAD(contextAad(b.EncryptionContext));
        d.setAuthTag(blob.subarray(48, 64));
        const plain = Buffer.concat([d.update(blob.subarray(64)), d.final()]);
        return { KeyId: keyArn(id), Plaintext: plain.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      } catch {
        throw new AwsError('InvalidCiphertextException', '');
      }
    },
  };

  /** Checks the Authorization header; throws the error AWS would answer. */
  const verify = (method: string, path: string, query: string, headers: IncomingHttpHeaders, body: Buffer, service: string) => {
    const auth = headers.authorization;
    if (typeof auth !== 'string') throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) throw new AwsError('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature.');
    const [, keyId, date, reg, svc, signed, sig] = m;
    if (keyId !== a.credentials.accessKeyId) throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    if (reg !== region) throw new AwsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${reg}'.`);
    if (svc !== service) throw new AwsError('InvalidSignatureException', `Credential should be scoped to correct service: '${service}'.`);
    const amzDate = headers['x-amz-date'];
    if (typeof amzDate !== 'string' || amzDate.slice(0, 8) !== date) throw new AwsError('IncompleteSignatureException', 'X-Amz-Date is missing or does not match the credential scope date.');
    const t = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    if (!Number.isFinite(t) || Math.abs(Date.now() - t) > 5 * 60_000) throw new AwsError('InvalidSignatureException', 'Signature expired: the request time is more than 5 minutes from the server time.');
    const signedHeaders = signed!.split(';');
    if (!signedHeaders.includes('host')) throw new AwsError('InvalidSignatureException', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    const hdrs: Record<string, string> = {};
    for (const h of signedHeaders) {
      const v = headers[h];
      hdrs[h] = Array.isArray(v) ? v.join(',') : (v ?? '');
    }
    const payloadHash = typeof headers['x-amz-content-sha256'] === 'string' ? headers['x-amz-content-sha256'] : sha256hex(body);
    if (payloadHash !== sha256hex(body)) throw new AwsError('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match what was computed.');
    const { signature } = sigv4Signature({ method, path, query, headers: hdrs, signedHeaders, payloadHash, amzDate, region, service, secretAccessKey: a.credentials.secretAccessKey });
    if (!timingSafeEqual(Buffer.from(signature), Buffer.from(sig!))) {
      throw new AwsError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
    }
  };

  const send = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
    res.end(JSON.stringify(body));
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '');
      const service = target.startsWith('TrentService.') ? 'kms' : 'secretsmanager';
      const [path, query = ''] = (req.url ?? '/').split('?') as [string, string?];
      let parsed: any = null;
      const record = { target, body: null as any, signatureOk: false, service };
      a.requests.push(record);
      try {
        if (a.outage) throw new AwsError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', a.outage);
        if (req.method !== 'POST' || path !== '/') throw new AwsError('UnknownOperationException', '', 404);
        verify(req.method, path, query, req.headers, body, service);
        record.signatureOk = true;
        if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) throw new AwsError('SerializationException', 'Content-Type must be application/x-amz-json-1.1');
        try {
          parsed = JSON.parse(body.toString('utf8') || '{}');
        } catch {
          throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
        }
        record.body = parsed;
        const op = ops[target];
        if (!op) throw new AwsError('UnknownOperationException', '');
        send(res, 200, op(parsed));
      } catch (e) {
        if (!(e instanceof AwsError)) throw e;
        send(res, e.status, { __type: e.type, message: e.message }, e.type);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  a.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return a;
}
