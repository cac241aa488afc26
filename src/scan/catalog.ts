/**
 * Every check the scanner can report: id, default severity, title, remediation. Findings are
 * built from here so text, JSON and SARIF agree, and SARIF can list all rules.
 * Ids that mean the same problem as an OpenClaw `security audit` check reuse OpenClaw's id
 * and record OpenClaw's severity (critical / warn / info) next to ours.
 */
import { GENERIC_RULES, PRIVATE_KEY_RULE, SECRET_RULES } from './secrets/rules.js';
import type { CheckMeta, Finding, OpenClawSeverity, Severity } from './types.js';

/** OpenClaw "warn" has no exact counterpart; it sits between our high and low. */
export function fromOpenClaw(s: OpenClawSeverity): Severity {
  return s === 'critical' ? 'critical' : s === 'warn' ? 'medium' : 'info';
}

const C = (m: CheckMeta): CheckMeta => m;
const OC = (id: string, sev: OpenClawSeverity, title: string, description: string, remediation: string, family: CheckMeta['family'] = 'openclaw-config'): CheckMeta =>
  ({ id, family, severity: fromOpenClaw(sev), openclawSeverity: sev, title, description, remediation });

const CHECKS: CheckMeta[] = [
  // ---- clawguard configs (the seed's production rules) ----
  C({ id: 'clawguard.secrets.literal_key', family: 'clawguard-config', severity: 'critical', title: 'Literal API key in config', description: 'A credential is written into the config instead of coming from an external secret.', remediation: 'Define the credential under "secrets" with provider "external" (vault, secrets-manager, aws-kms) and reference it (e.g. models.<name>.apiKeySecret); rotate the exposed value.' }),
  C({ id: 'clawguard.secrets.not_external', family: 'clawguard-config', severity: 'high', title: 'Secret not held by an external secret manager', description: 'The secret uses provider "local", so it lives in clawguard\'s own store rather than an external secret manager.', remediation: 'Set provider "external" with source vault, secrets-manager or aws-kms.' }),
  C({ id: 'clawguard.secrets.weak_source', family: 'clawguard-config', severity: 'medium', strictOnly: true, title: 'Secret read from an environment variable or file', description: 'Strict rules require every secret to come from a secret manager (vault, AWS Secrets Manager, KMS), not from env or a file.', remediation: 'Move the secret to vault, secrets-manager or aws-kms.' }),
  C({ id: 'clawguard.models.api_key_env', family: 'clawguard-config', severity: 'medium', strictOnly: true, title: 'Model API key taken from an environment variable', description: 'Strict rules require model API keys to come through an external secret (apiKeySecret), not apiKeyEnv.', remediation: 'Define the key under "secrets" (provider external) and set models.<name>.apiKeySecret.' }),
  C({ id: 'clawguard.secrets.rotation_too_slow', family: 'clawguard-config', severity: 'high', title: 'Secret rotated less often than weekly', description: 'The production rules require rotation at least weekly.', remediation: 'Set rotation to "weekly", "daily" or shorter.' }),
  C({ id: 'clawguard.secrets.rotation_invalid', family: 'clawguard-config', severity: 'high', title: 'Secret rotation schedule not understood', description: 'The rotation value is not hourly/daily/weekly/monthly, a duration or a cron expression, so the secret is never rotated.', remediation: 'Use "daily", "weekly", a duration such as "36h", or a cron expression.' }),
  C({ id: 'clawguard.secrets.rotation_missing', family: 'clawguard-config', severity: 'high', strictOnly: true, title: 'Secret has no rotation', description: 'Strict rules require every secret to be rotated.', remediation: 'Add rotation: "weekly" (or shorter).' }),
  C({ id: 'clawguard.agents.auto_destroy_off', family: 'clawguard-config', severity: 'high', title: 'Thread-bound profile does not auto-destroy', description: 'A thread-bound profile must destroy its instance when the request ends; otherwise state (and anything injected) survives into the next request.', remediation: 'Set "auto-destroy": true, or use runtime "session" deliberately.' }),
  C({ id: 'clawguard.agents.sensitive_timeout', family: 'clawguard-config', severity: 'high', title: 'Sensitive profile runs longer than 120 s', description: 'Profiles handling sensitive work must be killed within 120 seconds.', remediation: 'Set "timeout": 120 (or less) on the profile.' }),
  C({ id: 'clawguard.agents.max_concurrent_unset', family: 'clawguard-config', severity: 'medium', title: 'Profile has no max-concurrent', description: 'Without an explicit concurrency cap a burst of requests can start as many instances as the default allows.', remediation: 'Set "max-concurrent" on the profile (e.g. 10).' }),
  C({ id: 'clawguard.agents.not_thread_bound', family: 'clawguard-config', severity: 'high', strictOnly: true, title: 'Profile is not thread-bound', description: 'Strict rules require every profile to run thread-bound (a fresh instance per request).', remediation: 'Set runtime "thread-bound" and "auto-destroy": true.' }),
  C({ id: 'clawguard.agents.tools_wildcard', family: 'clawguard-config', severity: 'high', title: 'Profile allows every tool', description: 'tools.allow contains "*", which defeats default-deny.', remediation: 'List only the tools the profile needs.' }),
  C({ id: 'clawguard.monitoring.missing', family: 'clawguard-config', severity: 'medium', title: 'Monitoring not configured', description: 'No monitoring metrics, baseline or telemetry are configured, so anomalies and secret misuse go unnoticed.', remediation: 'Add a "monitoring" block (thread-bound-agents and secrets metrics, baseline).' }),
  C({ id: 'clawguard.sandbox.not_strict', family: 'clawguard-config', severity: 'high', title: 'Sandbox not in strict mode', description: 'The production rules require sandbox mode "strict".', remediation: 'Set sandbox.mode to "strict".' }),
  C({ id: 'clawguard.sandbox.isolation_not_process', family: 'clawguard-config', severity: 'medium', title: 'No process-level isolation', description: 'Agents run in in-process isolates; the production rules require process-level isolation.', remediation: 'Set sandbox.isolationLevel to "process-level" (or isolation "process" on each profile).' }),
  C({ id: 'clawguard.sandbox.blocked_paths_missing', family: 'clawguard-config', severity: 'high', title: 'Sensitive paths not blocked', description: 'sandbox.fileAccess.blockedPaths must cover /etc, ~/.ssh, ~/.aws and ~/.gnupg.', remediation: 'Add the missing paths to sandbox.fileAccess.blockedPaths.' }),
  C({ id: 'clawguard.sandbox.wildcard_domain', family: 'clawguard-config', severity: 'critical', title: 'Wildcard allowed domain', description: 'An allowed domain of "*" (or a whole top-level domain) lets agents reach any host, which is how data leaves.', remediation: 'List the exact API hosts agents need in sandbox.networkAccess.allowedDomains.' }),
  C({ id: 'clawguard.sandbox.wildcard_subdomain', family: 'clawguard-config', severity: 'low', strictOnly: true, title: 'Subdomain wildcard in allowed domains', description: 'Strict rules require exact hosts; "*.example.com" admits any subdomain.', remediation: 'Replace the wildcard with the exact hosts.' }),
  C({ id: 'clawguard.sandbox.network_default_allow', family: 'clawguard-config', severity: 'high', title: 'Network egress allowed by default', description: 'blockedDomains is set without "*", so every host not explicitly blocked is reachable.', remediation: 'Add "*" to sandbox.networkAccess.blockedDomains and list allowed hosts explicitly.' }),
  C({ id: 'clawguard.zero_trust.disabled', family: 'clawguard-config', severity: 'high', title: 'Zero trust not enabled', description: 'security.zeroTrust.enabled is not true (clawguard\'s default is off), so agent requests are not required to be authenticated and signed.', remediation: 'Set security.zeroTrust.enabled: true with enforcement "strict".' }),
  C({ id: 'clawguard.zero_trust.not_strict', family: 'clawguard-config', severity: 'high', title: 'Zero trust not strict', description: 'Zero trust runs with permissive enforcement: violations are logged, not blocked.', remediation: 'Set security.zeroTrust.enforcement to "strict".' }),
  C({ id: 'clawguard.zero_trust.policy_off', family: 'clawguard-config', severity: 'medium', strictOnly: true, title: 'Zero-trust policy switched off', description: 'Strict rules require every zero-trust policy of the seed configuration to be on.', remediation: 'Set the listed policies to true under security.zeroTrust.policies.' }),
  C({ id: 'clawguard.gateway.no_tls', family: 'clawguard-config', severity: 'critical', title: 'Gateway exposed without TLS', description: 'The gateway binds beyond loopback without TLS, so tokens and agent traffic cross the network in clear text.', remediation: 'Configure gateway.tls (cert and key, or auto) or bind to 127.0.0.1.' }),
  C({ id: 'clawguard.gateway.no_auth', family: 'clawguard-config', severity: 'critical', title: 'Gateway exposed without authentication', description: 'The gateway binds beyond loopback while neither gateway auth nor zero-trust request authentication is on.', remediation: 'Enable security.zeroTrust (requireAuthentication) or gateway.auth, or bind to 127.0.0.1.' }),
  C({ id: 'clawguard.audit.retention_short', family: 'clawguard-config', severity: 'medium', title: 'Audit retention under 90 days', description: 'The production rules keep the audit trail at least 90 days.', remediation: 'Set audit.retentionDays to 90 or more.' }),

  // ---- OpenClaw configs (OpenClaw's own ids) ----
  OC('gateway.bind_no_auth', 'critical', 'Gateway binds beyond loopback without auth', 'gateway.bind is not loopback and no gateway.auth token/password is configured.', 'Set gateway.auth (token recommended) or bind to loopback.'),
  OC('gateway.loopback_no_auth', 'critical', 'Gateway auth missing on loopback', 'gateway.bind is loopback but no auth secret is configured; a reverse proxy in front would expose an unauthenticated gateway.', 'Set gateway.auth (token recommended).'),
  OC('gateway.token_too_short', 'warn', 'Gateway token looks short', 'The shared gateway token is shorter than 24 characters.', 'Use a long random token (e.g. openssl rand -hex 32).'),
  OC('gateway.auth_no_rate_limit', 'warn', 'No auth rate limiting configured', 'The gateway is reachable beyond loopback and gateway.auth.rateLimit is not set.', 'Set gateway.auth.rateLimit.'),
  OC('gateway.tailscale_funnel', 'critical', 'Tailscale Funnel exposure enabled', 'gateway.tailscale.mode is "funnel": the gateway is on the public internet.', 'Use tailscale.mode "serve" (tailnet only) or "off".'),
  OC('gateway.control_ui.allowed_origins_wildcard', 'critical', 'Control UI allowed origins contains wildcard', 'gateway.controlUi.allowedOrigins includes "*".', 'List the exact trusted origins.'),
  OC('gateway.control_ui.device_auth_disabled', 'critical', 'Control UI device auth disabled', 'gateway.controlUi.dangerouslyDisableDeviceAuth is true.', 'Remove the flag.'),
  OC('gateway.control_ui.insecure_auth', 'warn', 'Control UI insecure auth toggle enabled', 'gateway.controlUi.allowInsecureAuth is true.', 'Disable it or serve the Control UI over HTTPS.'),
  OC('gateway.real_ip_fallback_enabled', 'warn', 'X-Real-IP fallback is enabled', 'gateway.allowRealIpFallback trusts X-Real-IP, which a misconfigured proxy lets clients spoof.', 'Keep gateway.allowRealIpFallback false.'),
  OC('config.secrets.gateway_password_in_config', 'warn', 'Gateway password is stored in config', 'gateway.auth.password is a literal value in the config file.', 'Use a SecretRef or ${ENV} reference for gateway.auth.password.'),
  OC('config.secrets.hooks_token_in_config', 'warn', 'Hook token is stored in config', 'hooks.token is a literal value in the config file.', 'Use a SecretRef or ${ENV} reference for hooks.token.'),
  OC('hooks.token_reuse_gateway_token', 'critical', 'Hook token reuses the gateway token', 'hooks.token equals gateway.auth.token, so hook ingress also unlocks the gateway.', 'Use a separate random hooks.token.'),
  OC('hooks.token_too_short', 'warn', 'Hook token looks short', 'hooks.token is shorter than 24 characters.', 'Use a long random token.'),
  OC('logging.redact_off', 'warn', 'Tool summary redaction is disabled', 'logging.redactSensitive is "off", so secrets can leak into logs and status output.', 'Set logging.redactSensitive to "tools".'),
  OC('sandbox.dangerous_network_mode', 'critical', 'Sandbox uses a dangerous Docker network mode', 'The sandbox Docker network is "host" or joins another container\'s namespace ("container:*").', 'Use the default bridge network or "none".'),
  OC('sandbox.dangerous_bind_mount', 'critical', 'Sandbox bind-mounts a sensitive path', 'A sandbox bind mount targets a system, credential or Docker socket path.', 'Remove the bind mount; mount only workspace directories.'),
  OC('sandbox.dangerous_seccomp_profile', 'critical', 'Sandbox seccomp profile disabled', 'securityOpt sets seccomp=unconfined.', 'Remove seccomp=unconfined.'),
  OC('sandbox.dangerous_apparmor_profile', 'critical', 'Sandbox AppArmor profile disabled', 'securityOpt sets apparmor=unconfined.', 'Remove apparmor=unconfined.'),
  OC('tools.elevated.allowFrom.wildcard', 'critical', 'Elevated exec allowlist contains wildcard', 'tools.elevated.allowFrom.<channel> includes "*", which approves everyone on that channel for elevated (host) exec. The reported id names the channel.', 'List the allowed sender ids explicitly.'),
  OC('tools.exec.security_full_configured', 'warn', 'Host exec is running with security="full"', 'tools.exec.security is "full": the agent can run any command on the host without approval. Critical when the gateway or a channel is open to others.', 'Use security "allowlist" with explicit approvals, or "deny".'),
  C({ id: 'clawguard.openclaw.api_key_in_config', family: 'openclaw-config', severity: 'high', title: 'Provider API key written into openclaw.json', description: 'A model provider apiKey is a literal value in the OpenClaw config.', remediation: 'Use a SecretRef ({ source: "env" | "file" | "exec", ... }) or ${ENV} reference; rotate the exposed key.' }),

  // ---- file permissions ----
  OC('fs.state_dir.perms_world_writable', 'critical', 'State dir is world-writable', 'Other users can write into the state directory.', 'chmod 700 the state directory (--fix does this).', 'permissions'),
  OC('fs.state_dir.perms_group_writable', 'warn', 'State dir is group-writable', 'Group members can write into the state directory.', 'chmod 700 the state directory (--fix does this).', 'permissions'),
  OC('fs.state_dir.perms_readable', 'warn', 'State dir is readable by others', 'The state directory is readable by group or other users.', 'chmod 700 the state directory (--fix does this).', 'permissions'),
  OC('fs.config.perms_writable', 'critical', 'Config file is writable by others', 'Another user could change gateway, auth or tool policy.', 'chmod 600 the config file (--fix does this).', 'permissions'),
  OC('fs.config.perms_world_readable', 'critical', 'Config file is world-readable', 'Config can contain tokens and private settings.', 'chmod 600 the config file (--fix does this).', 'permissions'),
  OC('fs.config.perms_group_readable', 'warn', 'Config file is group-readable', 'Config can contain tokens and private settings.', 'chmod 600 the config file (--fix does this).', 'permissions'),
  C({ id: 'fs.key_file.perms_writable', family: 'permissions', severity: 'critical', title: 'Key file is writable by others', description: 'Another user could replace the key.', remediation: 'chmod 600 the key file (--fix does this).' }),
  C({ id: 'fs.key_file.perms_readable', family: 'permissions', severity: 'high', title: 'Key file is readable by others', description: 'Group or other users can read a private key or credential file.', remediation: 'chmod 600 the key file (--fix does this).' }),

  // ---- agent and skill code ----
  C({ id: 'code.exec.curl_pipe_shell', family: 'code', severity: 'critical', title: 'Downloaded script piped into a shell', description: 'Remote content is executed without review or pinning (curl … | sh).', remediation: 'Download to a file, verify a pinned checksum or signature, then run it; or vendor the script.' }),
  C({ id: 'code.exec.shell_string', family: 'code', severity: 'high', title: 'Shell command built from a string', description: 'A command runs through a shell (child_process exec, shell: true, os.system, shell=True); with any dynamic part this is command injection.', remediation: 'Use execFile/spawn (or subprocess with a list) with an argument array and no shell; or run it through clawguard\'s exec.run tool.' }),
  C({ id: 'code.dynamic.eval', family: 'code', severity: 'high', title: 'Dynamic code execution', description: 'eval / new Function / exec / vm run code built at runtime, which an injected prompt can control.', remediation: 'Remove the dynamic evaluation; parse data with JSON.parse or a real parser.' }),
  C({ id: 'code.env.harvest', family: 'code', severity: 'medium', title: 'Whole environment collected', description: 'The code enumerates or serialises the entire process environment, which holds credentials.', remediation: 'Read only the variables the code needs, by name.' }),
  C({ id: 'code.secrets.credential_read', family: 'code', severity: 'medium', title: 'Reads credential files', description: 'The code reads credential stores: SSH private keys, the AWS credentials file, .npmrc, .netrc, kube/docker config, keychains.', remediation: 'Agents should get credentials from the secrets broker, never from the user\'s files.' }),
  C({ id: 'code.exfil.credentials', family: 'code', severity: 'critical', title: 'Credentials read and sent over the network', description: 'The same file collects credentials (environment or credential files) and sends data out over the network: the exfiltration pattern.', remediation: 'Remove the code; if it is legitimate, route the call through the egress allowlist and the secrets broker.' }),
  C({ id: 'code.obfuscation.base64_exec', family: 'code', severity: 'critical', title: 'Encoded payload decoded and executed', description: 'A base64 payload is decoded and run (eval/exec/shell), hiding what the code does.', remediation: 'Replace it with readable source; treat the file as malicious until reviewed.' }),

  // ---- secrets ----
  ...SECRET_RULES.map((r): CheckMeta => ({ id: r.id, family: 'secret', severity: r.severity, title: r.title, description: `${r.title} found in a file.`, remediation: r.remediation })),
  ...[PRIVATE_KEY_RULE, GENERIC_RULES.assignment, GENERIC_RULES.highEntropy, GENERIC_RULES.awsSecret].map((r): CheckMeta => ({ id: r.id, family: 'secret', severity: r.severity, title: r.title, description: `${r.title} found in a file.`, remediation: r.remediation })),
];

const BY_ID = new Map(CHECKS.map((c) => [c.id, c]));

export function allChecks(): readonly CheckMeta[] {
  return CHECKS;
}

/** Catalog entry for a finding id; `tools.elevated.allowFrom.<channel>.wildcard` maps to its template. */
export function checkMeta(id: string): CheckMeta | undefined {
  return BY_ID.get(id) ?? (/^tools\.elevated\.allowFrom\..+\.wildcard$/.test(id) ? BY_ID.get('tools.elevated.allowFrom.wildcard') : undefined);
}

export interface FindingInput {
  file: string;
  line: number;
  detail: string;
  severity?: Severity;
  openclawSeverity?: OpenClawSeverity;
  title?: string;
  remediation?: string;
  fixable?: boolean;
}

export function finding(id: string, f: FindingInput): Finding {
  const m = checkMeta(id);
  if (!m) throw new Error(`unknown check id ${id}`);
  const oc = f.openclawSeverity ?? m.openclawSeverity;
  return {
    checkId: id,
    severity: f.severity ?? (f.openclawSeverity ? fromOpenClaw(f.openclawSeverity) : m.severity),
    title: f.title ?? m.title,
    detail: f.detail,
    remediation: f.remediation ?? m.remediation,
    file: f.file,
    line: f.line,
    ...(oc ? { openclawSeverity: oc } : {}),
    ...(f.fixable ? { fixable: true } : {}),
  };
}
