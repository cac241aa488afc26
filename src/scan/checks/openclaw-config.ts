/**
 * OpenClaw configs (openclaw.json, JSON5). Ids and severities follow `openclaw security audit`
 * where the same problem is meant, so users of both tools recognise them. Only static checks:
 * the scanner reads files, it does not probe a running gateway.
 */
import { finding } from '../catalog.js';
import { locate } from '../locate.js';
import { mask } from '../text.js';
import type { Finding, OpenClawSeverity } from '../types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface OpenClawInput {
  doc: Obj;
  text: string;
  file: string;
  env: Readonly<Record<string, string | undefined>>;
}

const MIN_TOKEN = 24;
/** Paths a sandbox must never mount: system config, credentials, the Docker socket. */
const DANGEROUS_MOUNTS = /^(?:\/|\/etc(?:\/.*)?|\/root(?:\/.*)?|\/proc(?:\/.*)?|\/sys(?:\/.*)?|\/boot|\/dev|\/var\/run\/docker\.sock|\/run\/docker\.sock|(?:~|\$HOME|\/home\/[^/]+|\/Users\/[^/]+)\/\.(?:ssh|aws|gnupg|kube|docker|openclaw|config\/gcloud)(?:\/.*)?|(?:~|\$HOME|\/home\/[^/]+|\/Users\/[^/]+)\/?)$/;

/** A configured secret input: a literal string, a ${ENV} reference, or a SecretRef object. */
function configured(v: unknown): boolean {
  return (typeof v === 'string' && v.trim().length > 0) || (isObj(v) && typeof v.source === 'string');
}

/** A literal (not ${ENV}, not a SecretRef object). */
function literal(v: unknown): v is string {
  return typeof v === 'string' && v.trim().length > 0 && !/^\$\{[^}]+\}$/.test(v.trim());
}

export function checkOpenClawConfig(input: OpenClawInput): Finding[] {
  const out: Finding[] = [];
  const { doc, text, file, env } = input;
  const add = (id: string, path: string[], detail: string, oc?: OpenClawSeverity) => out.push(finding(id, { file, line: locate(text, path), detail, ...(oc ? { openclawSeverity: oc } : {}) }));

  const gateway = isObj(doc.gateway) ? doc.gateway : {};
  const bind = typeof gateway.bind === 'string' ? gateway.bind : 'loopback';
  const exposed = bind !== 'loopback';
  const auth = isObj(gateway.auth) ? gateway.auth : {};
  const mode = typeof auth.mode === 'string' ? auth.mode : undefined;
  const tailscale = isObj(gateway.tailscale) && typeof gateway.tailscale.mode === 'string' ? gateway.tailscale.mode : 'off';
  const tokenSet = configured(auth.token) || !!env.OPENCLAW_GATEWAY_TOKEN;
  const passwordSet = configured(auth.password) || !!env.OPENCLAW_GATEWAY_PASSWORD;
  const sharedSecret = mode === 'token' ? tokenSet : mode === 'password' ? passwordSet : mode === 'none' || mode === 'trusted-proxy' ? false : tokenSet || passwordSet;
  const tailscaleAuth = tailscale === 'serve' && auth.allowTailscale !== false;
  const controlUi = isObj(gateway.controlUi) ? gateway.controlUi : {};
  const controlUiEnabled = controlUi.enabled !== false;

  if (exposed && !sharedSecret && mode !== 'trusted-proxy') add('gateway.bind_no_auth', ['gateway', 'bind'], `gateway.bind is "${bind}" but no gateway.auth token or password is configured.`);
  if (!exposed && controlUiEnabled && !sharedSecret && !tailscaleAuth && mode !== 'trusted-proxy') add('gateway.loopback_no_auth', ['gateway'], 'gateway.bind is loopback but no gateway auth secret is configured.');
  if (literal(auth.token) && (mode === 'token' || mode === undefined) && auth.token.trim().length < MIN_TOKEN) {
    add('gateway.token_too_short', ['gateway', 'auth', 'token'], `gateway auth token is ${auth.token.trim().length} characters (${mask(auth.token.trim())}); use at least ${MIN_TOKEN}.`);
  }
  if (exposed && mode !== 'trusted-proxy' && !auth.rateLimit) add('gateway.auth_no_rate_limit', ['gateway', 'bind'], `gateway.bind is "${bind}" and gateway.auth.rateLimit is not set.`);
  if (tailscale === 'funnel') add('gateway.tailscale_funnel', ['gateway', 'tailscale', 'mode'], 'gateway.tailscale.mode is "funnel".');
  if (Array.isArray(controlUi.allowedOrigins) && controlUi.allowedOrigins.some((o) => typeof o === 'string' && o.trim() === '*')) {
    add('gateway.control_ui.allowed_origins_wildcard', ['gateway', 'controlUi', 'allowedOrigins'], 'gateway.controlUi.allowedOrigins includes "*".', exposed ? 'critical' : 'warn');
  }
  if (controlUi.dangerouslyDisableDeviceAuth === true) add('gateway.control_ui.device_auth_disabled', ['gateway', 'controlUi', 'dangerouslyDisableDeviceAuth'], 'gateway.controlUi.dangerouslyDisableDeviceAuth is true.');
  if (controlUi.allowInsecureAuth === true) add('gateway.control_ui.insecure_auth', ['gateway', 'controlUi', 'allowInsecureAuth'], 'gateway.controlUi.allowInsecureAuth is true.');
  if (gateway.allowRealIpFallback === true) add('gateway.real_ip_fallback_enabled', ['gateway', 'allowRealIpFallback'], 'gateway.allowRealIpFallback is true.', exposed ? 'critical' : 'warn');
  if (literal(auth.password)) add('config.secrets.gateway_password_in_config', ['gateway', 'auth', 'password'], `gateway.auth.password is a literal value (${mask(auth.password.trim())}).`);

  const hooks = isObj(doc.hooks) ? doc.hooks : {};
  if (literal(hooks.token)) {
    add('config.secrets.hooks_token_in_config', ['hooks', 'token'], `hooks.token is a literal value (${mask(hooks.token.trim())}).`);
    if (hooks.token.trim().length < MIN_TOKEN) add('hooks.token_too_short', ['hooks', 'token'], `hooks.token is ${hooks.token.trim().length} characters.`);
    if (literal(auth.token) && auth.token.trim() === hooks.token.trim()) add('hooks.token_reuse_gateway_token', ['hooks', 'token'], 'hooks.token is the same value as gateway.auth.token.');
  }

  const logging = isObj(doc.logging) ? doc.logging : {};
  if (logging.redactSensitive === 'off') add('logging.redact_off', ['logging', 'redactSensitive'], 'logging.redactSensitive is "off".');

  // Sandbox settings live under agents.defaults.sandbox and agents.list[].sandbox.
  const agents = isObj(doc.agents) ? doc.agents : {};
  const sandboxes: Array<{ label: string; path: string[]; sb: Obj }> = [];
  if (isObj(agents.defaults) && isObj(agents.defaults.sandbox)) sandboxes.push({ label: 'agents.defaults.sandbox', path: ['agents', 'defaults', 'sandbox'], sb: agents.defaults.sandbox });
  const list = Array.isArray(agents.list) ? agents.list : [];
  for (const a of list) {
    if (isObj(a) && isObj(a.sandbox)) sandboxes.push({ label: `agents.list[${String(a.id ?? '?')}].sandbox`, path: ['agents', 'list', ...(typeof a.id === 'string' ? ['id'] : []), 'sandbox'], sb: a.sandbox });
  }
  for (const { label, path, sb } of sandboxes) {
    const docker = isObj(sb.docker) ? sb.docker : {};
    const net = typeof docker.network === 'string' ? docker.network.trim() : '';
    if (net === 'host' || net.startsWith('container:')) add('sandbox.dangerous_network_mode', [...path, 'docker', 'network'], `${label}.docker.network is "${net}".`);
    for (const b of Array.isArray(docker.binds) ? docker.binds : []) {
      if (typeof b !== 'string') continue;
      const src = b.split(':')[0]!.trim().replace(/\/+$/, '') || '/';
      if (DANGEROUS_MOUNTS.test(src)) add('sandbox.dangerous_bind_mount', [...path, 'docker', 'binds'], `${label}.docker.binds mounts "${src}".`);
    }
    for (const o of Array.isArray(docker.securityOpt) ? docker.securityOpt : []) {
      if (typeof o !== 'string') continue;
      const v = o.replace(/\s+/g, '').toLowerCase();
      if (v === 'seccomp=unconfined' || v === 'seccomp:unconfined') add('sandbox.dangerous_seccomp_profile', [...path, 'docker', 'securityOpt'], `${label}.docker.securityOpt contains "${o}".`);
      if (v === 'apparmor=unconfined' || v === 'apparmor:unconfined') add('sandbox.dangerous_apparmor_profile', [...path, 'docker', 'securityOpt'], `${label}.docker.securityOpt contains "${o}".`);
    }
  }

  const tools = isObj(doc.tools) ? doc.tools : {};
  const elevated = isObj(tools.elevated) ? tools.elevated : {};
  let elevatedWildcard = false;
  if (elevated.enabled !== false && isObj(elevated.allowFrom)) {
    for (const [provider, entries] of Object.entries(elevated.allowFrom)) {
      if (Array.isArray(entries) && entries.some((e) => String(e).trim() === '*')) {
        elevatedWildcard = true;
        add(`tools.elevated.allowFrom.${provider}.wildcard`, ['tools', 'elevated', 'allowFrom', provider], `tools.elevated.allowFrom.${provider} includes "*".`);
      }
    }
  }

  // security="full" is a warning on a private setup and critical when others can reach the agent.
  const channels = isObj(doc.channels) ? doc.channels : {};
  const openChannel = Object.values(channels).some((c) => isObj(c) && (c.dmPolicy === 'open' || c.groupPolicy === 'open'));
  const fullAt: Array<{ label: string; path: string[] }> = [];
  if (isObj(tools.exec) && tools.exec.security === 'full') fullAt.push({ label: 'tools.exec.security', path: ['tools', 'exec', 'security'] });
  for (const a of list) {
    if (isObj(a) && isObj(a.tools) && isObj(a.tools.exec) && a.tools.exec.security === 'full') fullAt.push({ label: `agents.list[${String(a.id ?? '?')}].tools.exec.security`, path: ['agents', 'list', 'tools', 'exec', 'security'] });
  }
  for (const f of fullAt) {
    const reachable = exposed || openChannel || elevatedWildcard || tailscale === 'funnel';
    add('tools.exec.security_full_configured', f.path, `${f.label} is "full"${reachable ? ` and the agent is reachable by others (${[exposed && `gateway.bind "${bind}"`, openChannel && 'an open channel policy', elevatedWildcard && 'an elevated wildcard', tailscale === 'funnel' && 'Tailscale Funnel'].filter(Boolean).join(', ')})` : ''}.`, reachable ? 'critical' : 'warn');
  }

  // Provider API keys written into the file.
  const providers = isObj(doc.models) && isObj(doc.models.providers) ? doc.models.providers : {};
  for (const [name, p] of Object.entries(providers)) {
    if (isObj(p) && literal(p.apiKey)) add('clawguard.openclaw.api_key_in_config', ['models', 'providers', name, 'apiKey'], `models.providers.${name}.apiKey is a literal value (${mask(p.apiKey.trim())}).`);
  }
  return out;
}
