/** `clawguard agents …`: the agent registry through the operator API (admin scope). */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ClawguardError } from '../../errors/index.js';
import { generateEd25519, privateKeyPem, publicKeyPem, TRUST_LEVELS, validateAgentId } from '../../identity/index.js';
import { api, type GlobalOpts, ok, print, stateDirOf } from '../context.js';

type Agent = { agentId: string; fingerprint: string; trustLevel: string; capabilities: string[]; profile?: string; created: string; expires?: string; lastSeen?: string; revokedAt?: string; revokedReason?: string; status: string };

interface IdentityFlags {
  trustLevel?: string;
  capabilities?: string;
  expires?: string;
  profile?: string;
  json?: boolean;
}

function line(a: Agent): string {
  return `${a.agentId.padEnd(24)} ${a.status.padEnd(8)} ${a.trustLevel.padEnd(10)} ${(a.profile ?? '-').padEnd(14)} last seen ${a.lastSeen ?? 'never'}${a.expires ? `  expires ${a.expires}` : ''}`;
}

function detail(a: Agent): string {
  return Object.entries(a)
    .filter(([k]) => k !== 'publicKey')
    .map(([k, v]) => `${k.padEnd(18)} ${Array.isArray(v) ? v.join(', ') || '-' : String(v)}`)
    .join('\n');
}

function body(id: string, publicKey: unknown, o: IdentityFlags): Record<string, unknown> {
  if (o.trustLevel && !TRUST_LEVELS.includes(o.trustLevel as never)) throw new ClawguardError('bad_request', `--trust-level must be one of ${TRUST_LEVELS.join(', ')}`);
  return {
    agentId: id,
    publicKey,
    ...(o.trustLevel ? { trustLevel: o.trustLevel } : {}),
    ...(o.capabilities !== undefined ? { capabilities: o.capabilities.split(',').map((c) => c.trim()).filter(Boolean) } : {}),
    ...(o.expires ? { expires: o.expires } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
  };
}

function identityOptions(c: Command): Command {
  return c
    .option('--trust-level <level>', `${TRUST_LEVELS.join(' | ')} (default limited)`)
    .option('--capabilities <list>', 'comma-separated capabilities')
    .option('--expires <when>', 'duration (30d, 12h) or ISO date after which the identity is refused')
    .option('--profile <name>', 'config profile whose tool rules apply to the agent')
    .option('--json', 'machine-readable output');
}

export function registerAgentCommands(program: Command): void {
  const agents = program.command('agents').description('register, list, inspect and revoke agent identities (Ed25519 keys)');

  identityOptions(
    agents
      .command('keygen')
      .description('create an Ed25519 key pair (private key 0600) and register its public key')
      .requiredOption('--id <agentId>', 'agent id (the keyid of its signatures)')
      .option('--out <dir>', 'where to write <id>.key and <id>.pub (default <state-dir>/agent-keys)'),
  ).action(async (o: IdentityFlags & { id: string; out?: string }, cmd: Command) => {
    const g = cmd.optsWithGlobals<GlobalOpts>();
    const id = validateAgentId(o.id);
    const dir = resolve(o.out ?? join(stateDirOf(g), 'agent-keys'));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyFile = join(dir, `${id}.key`);
    const pubFile = join(dir, `${id}.pub`);
    for (const f of [keyFile, pubFile]) if (existsSync(f)) throw new ClawguardError('conflict', `${f} already exists; refusing to overwrite a key`);
    const { privateKey, publicKey } = generateEd25519();
    const pub = publicKeyPem(publicKey);
    writeFileSync(keyFile, privateKeyPem(privateKey), { mode: 0o600, flag: 'wx' });
    writeFileSync(pubFile, pub, { mode: 0o644, flag: 'wx' });
    let a: Agent;
    try {
      a = ok(await api(g, 'POST', '/v1/agents', body(id, pub, o))) as Agent;
    } catch (e) {
      rmSync(keyFile, { force: true });
      rmSync(pubFile, { force: true });
      throw e;
    }
    print(!!o.json, { ...a, privateKeyFile: keyFile, publicKeyFile: pubFile }, () => `registered ${a.agentId} (${a.trustLevel}, fingerprint ${a.fingerprint})\nprivate key: ${keyFile} (mode 0600; give it to the agent, keep it secret)\npublic key:  ${pubFile}`);
  });

  identityOptions(
    agents
      .command('register')
      .description('register an existing Ed25519 public key (SPKI PEM or JWK file)')
      .requiredOption('--id <agentId>', 'agent id (the keyid of its signatures)')
      .requiredOption('--public-key <file>', 'public key file'),
  ).action(async (o: IdentityFlags & { id: string; publicKey: string }, cmd: Command) => {
    let text: string;
    try {
      text = readFileSync(o.publicKey, 'utf8');
    } catch (e) {
      throw new ClawguardError('bad_request', `--public-key: cannot read ${o.publicKey} (${(e as NodeJS.ErrnoException).code})`);
    }
    let key: unknown = text;
    if (text.trim().startsWith('{')) {
      try {
        key = JSON.parse(text);
      } catch {
        throw new ClawguardError('bad_request', `--public-key: ${o.publicKey} looks like JSON but does not parse`);
      }
    }
    const a = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'POST', '/v1/agents', body(validateAgentId(o.id), key, o))) as Agent;
    print(!!o.json, a, () => `registered ${a.agentId} (${a.trustLevel}, fingerprint ${a.fingerprint})`);
  });

  agents
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const r = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'GET', '/v1/agents')) as { agents: Agent[] };
      print(!!o.json, r, () => (r.agents.length ? r.agents.map(line).join('\n') : '(no agents registered)'));
    });

  agents
    .command('show')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const a = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'GET', `/v1/agents/${encodeURIComponent(id)}`)) as Agent;
      print(!!o.json, a, () => detail(a));
    });

  agents
    .command('revoke')
    .argument('<id>')
    .option('--reason <text>', 'why (kept with the identity and in the audit log)')
    .option('--json', 'machine-readable output')
    .description('revoke an identity now: its signatures and session tokens are refused from this moment')
    .action(async (id: string, o: { reason?: string; json?: boolean }, cmd: Command) => {
      const q = o.reason ? `?reason=${encodeURIComponent(o.reason)}` : '';
      const a = ok(await api(cmd.optsWithGlobals<GlobalOpts>(), 'DELETE', `/v1/agents/${encodeURIComponent(id)}${q}`)) as Agent & { sessionsRevoked: number };
      print(!!o.json, a, () => `revoked ${a.agentId} at ${a.revokedAt} (${a.sessionsRevoked} session token(s) revoked)`);
    });
}
