/** `clawguard identity …`: verify a signed request offline; manage scoped operator tokens. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ClawguardError, errorShape } from '../../errors/index.js';
import { fieldValue, GATEWAY_COVERAGE, importPublicKey, parseRawRequest, parseSignatureFields, type RequiredCoverage, type VerifiedSignature, verifyRequest } from '../../identity/index.js';
import { api, type GlobalOpts, ok, print } from '../context.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function intOption(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new ClawguardError('bad_request', `${name}: expected a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
}

interface VerifyFlags {
  publicKey: string;
  keyid?: string;
  now?: number;
  require?: string;
  label?: string;
  scheme: string;
  skew: number;
  json?: boolean;
}

function coverage(o: VerifyFlags): RequiredCoverage {
  if (o.require === undefined) return GATEWAY_COVERAGE;
  const components = o.require.split(',').map((c) => c.trim()).filter(Boolean);
  return { components, params: o.keyid ? ['created', 'keyid'] : ['created'], digestWhenBody: false };
}

function registerVerify(identity: Command): void {
  identity
    .command('verify')
    .description('verify the RFC 9421 signature of a raw HTTP/1.1 request read from stdin (exit 0 pass, 1 fail)')
    .requiredOption('--public-key <file>', 'Ed25519 public key (SPKI PEM or JWK)')
    .option('--keyid <id>', 'the keyid the signature must name')
    .option('--now <unix>', 'verify as if the time were this (seconds since 1970)', intOption('--now'))
    .option('--require <components>', 'comma-separated components that must be covered (default: the gateway policy: @method, @target-uri, content-digest with a body, created, keyid, nonce)')
    .option('--label <label>', 'which signature to verify (default: the first)')
    .option('--scheme <scheme>', 'scheme of the target URI (the request line has none)', 'https')
    .option('--skew <seconds>', 'allowed age of created', intOption('--skew'), 60)
    .option('--json', 'machine-readable output')
    .action(async (o: VerifyFlags) => {
      let keyText: string;
      try {
        keyText = readFileSync(o.publicKey, 'utf8');
      } catch (e) {
        throw new ClawguardError('bad_request', `--public-key: cannot read ${o.publicKey} (${(e as NodeJS.ErrnoException).code})`);
      }
      const key = importPublicKey(keyText, `--public-key ${o.publicKey}`);
      const raw = await readStdin();
      if (raw.length === 0) throw new ClawguardError('bad_request', 'no request on stdin (pipe a raw HTTP/1.1 request into this command)');
      const msg = parseRawRequest(raw, o.scheme);
      const now = o.now ?? Math.floor(Date.now() / 1000);
      const required = coverage(o);
      let result: VerifiedSignature | undefined;
      let failure: { code: string; message: string } | undefined;
      try {
        result = verifyRequest(msg, {
          now,
          skewSeconds: o.skew,
          required,
          ...(o.label ? { label: o.label } : {}),
          resolveKey: (keyid) => {
            if (o.keyid !== undefined && keyid !== o.keyid) throw new ClawguardError('unknown_key', `the signature names keyid ${JSON.stringify(keyid ?? null)}, not ${JSON.stringify(o.keyid)}`);
            return { key };
          },
        });
      } catch (e) {
        failure = errorShape(e, 'bad_signature');
      }
      // What the signature claims to cover, even when it failed (best effort).
      let covered = result?.covered;
      let params = result?.params;
      let label = result?.label;
      if (!result) {
        try {
          const p = parseSignatureFields(fieldValue(msg.headers, 'signature-input') ?? '', fieldValue(msg.headers, 'signature') ?? '', o.label);
          covered = p.identifiers;
          params = p.params;
          label = p.label;
        } catch {
          /* unparseable: reported by the failure */
        }
      }
      const report = {
        ok: !failure,
        ...(label ? { label } : {}),
        ...(params ? { params } : {}),
        covered: covered ?? [],
        required: { components: required.components, oneOf: required.oneOf ?? [], params: required.params, digestWhenBody: required.digestWhenBody },
        now,
        targetUri: msg.targetUri,
        ...(result?.digest ? { contentDigest: result.digest } : {}),
        ...(result ? { signatureBase: result.base } : {}),
        ...(failure ? { error: failure } : {}),
      };
      print(!!o.json, report, () => {
        const lines = [`request     ${msg.method} ${msg.targetUri}`];
        if (label) lines.push(`signature   ${label}${params?.keyid !== undefined ? ` (keyid ${JSON.stringify(params.keyid)}, alg ${params.alg ?? 'from the key: ed25519'})` : ''}`);
        if (covered) lines.push(`covered     ${covered.join(' ') || '(nothing)'}`);
        if (params) lines.push(`parameters  ${Object.entries(params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`);
        if (params?.created !== undefined) lines.push(`created     ${now - params.created} s before now (${now}); allowed ${o.skew} s`);
        if (result?.digest) lines.push(`digest      Content-Digest ${result.digest.join(', ')} matches the body`);
        if (result) lines.push('signature base:', ...result.base.split('\n').map((l) => `  ${l}`));
        lines.push(failure ? `FAIL ${failure.code}: ${failure.message}` : `PASS: the ed25519 signature verifies with ${o.publicKey}; required components are covered; created is within ${o.skew} s${params?.expires !== undefined ? '; not expired' : ''}`);
        return lines.join('\n');
      });
      if (failure) process.exitCode = 1;
    });
}

type TokenInfo = { id: string; name: string; scopes: string[]; created: string; expires?: string; status: string; token?: string };

function registerTokens(identity: Command): void {
  const tokens = identity.command('tokens').description('scoped operator tokens (read, write, admin)');
  tokens
    .command('create')
    .requiredOption('--scope <scopes>', 'comma-separated: read, write, admin (admin implies write implies read)')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--expires <when>', 'duration (30d) or ISO date')
    .option('--json', 'machine-readable output')
    .action(async (o: { scope: string; name: string; expires?: string; json?: boolean }, cmd: Command) => {
      const t = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'POST', '/v1/operator-tokens', { name: o.name, scopes: o.scope, ...(o.expires ? { expires: o.expires } : {}) })) as TokenInfo;
      print(!!o.json, t, () => `${t.token}\n(id ${t.id}, scopes ${t.scopes.join(', ')}; shown once, store it now)`);
    });
  tokens
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const r = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'GET', '/v1/operator-tokens')) as { tokens: TokenInfo[] };
      print(!!o.json, r, () => (r.tokens.length ? r.tokens.map((t) => `${t.id}  ${t.status.padEnd(8)} ${t.scopes.join(',').padEnd(18)} ${t.name}${t.expires ? `  expires ${t.expires}` : ''}`).join('\n') : '(no operator tokens besides the state-dir admin token)'));
    });
  tokens
    .command('revoke')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const t = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'DELETE', `/v1/operator-tokens/${encodeURIComponent(id)}`)) as TokenInfo;
      print(!!o.json, t, () => `revoked operator token ${t.id} (${t.name})`);
    });
}

export function registerIdentityCommands(program: Command): void {
  const identity = program.command('identity').description('verify signed requests; manage operator tokens');
  registerVerify(identity);
  registerTokens(identity);
}
