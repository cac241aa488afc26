/**
 * What a file is, from its name and (for JSON) its shape.
 *
 * clawguard vs OpenClaw configs:
 *  - clawguard.json / clawguard.json5 / clawguard.<anything>.json(5): clawguard.
 *  - openclaw.json / openclaw.json5 (and the older clawdbot.json): OpenClaw — unless the file
 *    is wrapped in a top-level "openclaw" object, which is the seed articles' clawguard form.
 *  - any other .json/.json5/.jsonc: a top-level "openclaw" object means clawguard; OpenClaw's own
 *    keys (agents.list, agents.defaults, gateway.bind, gateway.auth.mode, channels, tools.exec,
 *    tools.elevated, logging.redactSensitive, hooks, models.providers) mean OpenClaw; clawguard's
 *    keys (agents.<name>.runtime/auto-destroy/timeout..., secrets.<name>.provider/source/rotation,
 *    monitoring, sandbox.fileAccess/networkAccess/mode, security.zeroTrust, audit.retentionDays,
 *    gateway.host/tls, models.<name>.baseUrl) mean clawguard. Anything else is plain text.
 */
import type { FileKind } from './types.js';

const CODE_EXT = /\.(?:[cm]?[jt]sx?|py|sh|bash|zsh|ksh|rb|pl|php|ps1|go)$/i;
const JSON_EXT = /\.(?:json5?|jsonc)$/i;
/** Content we never read: images, archives, fonts, compiled objects, databases. */
export const BINARY_EXT = /\.(?:png|jpe?g|gif|bmp|ico|webp|avif|tiff?|psd|pdf|zip|gz|tgz|bz2|xz|zst|7z|rar|jar|war|class|so|dylib|dll|exe|bin|o|a|obj|wasm|node|woff2?|ttf|otf|eot|mp[34]|m4a|mov|avi|mkv|webm|ogg|flac|wav|sqlite3?|db|parquet|pyc|pyo|lockb|DS_Store)$/i;
const KEY_FILE_NAME = /^(?:id_(?:rsa|dsa|ecdsa|ed25519)(?:_[\w-]+)?|.*\.(?:key|p12|pfx|jks|keystore|ppk))$/i;
const STATE_DIR_NAMES = new Set(['.clawguard', '.openclaw']);

export function isStateDirName(name: string): boolean {
  return STATE_DIR_NAMES.has(name);
}

export function isKeyFileName(name: string): boolean {
  return KEY_FILE_NAME.test(name);
}

export function kindByName(relPath: string, name: string): FileKind {
  if (name === 'SKILL.md' || (/\.md$/i.test(name) && /(?:^|[\\/])skills[\\/]/.test(relPath))) return 'skill';
  if (CODE_EXT.test(name) || name === 'Dockerfile' || /\.dockerfile$/i.test(name)) return 'code';
  return 'text';
}

export function mightBeConfig(name: string): boolean {
  return JSON_EXT.test(name);
}

/** Named like a config: parsed whatever it contains. */
export function namedLikeConfig(name: string): boolean {
  return OPENCLAW_NAMES.test(name) || CLAWGUARD_NAMES.test(name);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const OPENCLAW_NAMES = /^(?:openclaw|clawdbot|moltbot)\.json5?$/i;
const CLAWGUARD_NAMES = /^clawguard(?:\.[\w-]+)?\.json5?$/i;

const PROFILE_KEYS = ['runtime', 'auto-destroy', 'timeout', 'max-duration', 'max-concurrent', 'deterministic', 'entry', 'isolation'];
const SECRET_KEYS = ['provider', 'source', 'rotation'];

function looksOpenClaw(o: Obj): boolean {
  const agents = o.agents;
  const gateway = o.gateway;
  const tools = o.tools;
  return (
    (isObj(agents) && (Array.isArray(agents.list) || isObj(agents.defaults))) ||
    (isObj(gateway) && (typeof gateway.bind === 'string' || (isObj(gateway.auth) && typeof gateway.auth.mode === 'string') || isObj(gateway.controlUi) || isObj(gateway.tailscale))) ||
    isObj(o.channels) ||
    (isObj(tools) && (isObj(tools.exec) || isObj(tools.elevated))) ||
    (isObj(o.logging) && 'redactSensitive' in o.logging) ||
    (isObj(o.hooks) && 'token' in o.hooks) ||
    (isObj(o.models) && isObj(o.models.providers))
  );
}

function looksClawguard(o: Obj): boolean {
  const someChild = (v: unknown, keys: string[]) => isObj(v) && Object.values(v).some((c) => isObj(c) && keys.some((k) => k in c));
  const sandbox = o.sandbox;
  const gateway = o.gateway;
  const security = o.security;
  return (
    someChild(o.agents, PROFILE_KEYS) ||
    someChild(o.secrets, SECRET_KEYS) ||
    (isObj(o.monitoring) && ['thread-bound-agents', 'secrets', 'baseline', 'telemetry'].some((k) => k in (o.monitoring as Obj))) ||
    (isObj(sandbox) && ['mode', 'isolationLevel', 'fileAccess', 'networkAccess'].some((k) => k in sandbox)) ||
    (isObj(security) && isObj(security.zeroTrust)) ||
    (isObj(o.audit) && 'retentionDays' in o.audit) ||
    (isObj(gateway) && ('host' in gateway || 'tls' in gateway)) ||
    someChild(o.models, ['baseUrl', 'apiKeyEnv', 'apiKeySecret', 'apiKey'])
  );
}

/** Config kind of a parsed JSON document, or undefined when it is not a config. */
export function configKind(name: string, doc: unknown): 'clawguard-config' | 'openclaw-config' | undefined {
  if (!isObj(doc)) return undefined;
  if (isObj(doc.openclaw)) return 'clawguard-config';
  if (CLAWGUARD_NAMES.test(name)) return 'clawguard-config';
  if (OPENCLAW_NAMES.test(name)) return 'openclaw-config';
  if (looksOpenClaw(doc)) return 'openclaw-config';
  if (looksClawguard(doc)) return 'clawguard-config';
  return undefined;
}

/**
 * Keys only clawguard or OpenClaw configs use. The file's one anchor pass reports which of them
 * occur (case-folded), so deciding whether to parse a JSON file costs nothing extra; parsing
 * every JSON file in a tree would cost more than scanning it.
 */
export const CONFIG_WORDS = [
  'openclaw', 'auto-destroy', 'max-concurrent', 'max-duration', 'thread-bound', 'zerotrust', 'isolationlevel', 'fileaccess',
  'networkaccess', 'blockedpaths', 'alloweddomains', 'retentiondays', 'apikeysecret', 'apikeyenv', 'redactsensitive', 'dmpolicy',
  'grouppolicy', 'controlui', 'tailscale', 'samplewindow', 'alertthreshold', 'exportformat', 'enablediagnostics', 'captureallrequests',
];

/** Pairs of common keys that together still mean a config (a secrets-only or gateway-only file). */
const KEY_PAIRS: Array<[RegExp, RegExp]> = [
  [/["']?rotation["']?\s*:/, /["']?provider["']?\s*:/],
  [/["']?bind["']?\s*:/, /["']?gateway["']?\s*:/],
  [/["']?runtime["']?\s*:/, /["']?agents["']?\s*:/],
  [/["']?providers["']?\s*:/, /["']?models["']?\s*:/],
];

/** Should this JSON text be parsed as a possible config? `seen` holds the anchor words found in it. */
export function worthParsing(name: string, text: string, seen: ReadonlySet<string>): boolean {
  if (namedLikeConfig(name)) return true;
  for (const w of CONFIG_WORDS) if (seen.has(w)) return true;
  return KEY_PAIRS.some(([a, b]) => a.test(text) && b.test(text));
}
