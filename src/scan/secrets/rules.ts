/**
 * Vendor secret rules, written for clawguard. Each rule is anchored on a literal prefix that the
 * vendor puts in every credential (AKIA, sk-ant-api03-, xoxb-, ...); the combined trigger in
 * scanner.ts finds anchors in one pass and only then runs the rule's sticky regex at that spot.
 */
import type { Severity } from '../types.js';
import { entropy } from '../text.js';
import { hasSequence, isKnownPublicExample, isRepetitive } from './placeholders.js';

export type SecretFamily = 'aws' | 'openai' | 'anthropic' | 'github' | 'slack' | 'stripe' | 'gcp' | 'private-key' | 'jwt' | 'generic';

export interface SecretRule {
  id: string;
  family: SecretFamily;
  title: string;
  severity: Severity;
  /** Literal prefixes the credential starts with (case-sensitive); the dispatcher keys on them. */
  anchors: string[];
  /** Regex source used in the combined trigger instead of the escaped anchors (when an anchor alone is too common). */
  trigger?: string;
  /** Sticky regex run at the anchor; group 0 is the secret. */
  re: RegExp;
  /** Characters that must not touch the secret on the left (it would be part of a longer token). */
  leftBoundary?: RegExp;
  /** Extra validation on the matched secret; false = not a secret (placeholder, wrong checksum...). */
  accept?: (secret: string) => boolean;
  /** Severity can depend on the value (e.g. Stripe test keys). */
  severityOf?: (secret: string) => Severity;
  /** How many leading characters are a fixed vendor prefix (shown unmasked when short enough). */
  prefixOf?: (secret: string) => string;
  remediation: string;
}

const ALNUM = /[A-Za-z0-9]/;
const WORD = /[A-Za-z0-9_]/;
const TOKENCH = /[A-Za-z0-9_-]/;

function b64decode(s: string): string {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1');
}

/** Decode just the leading whole 4-char groups of a base64 string. */
function b64head(s: string, chars: number): string {
  return b64decode(s.slice(0, chars - (chars % 4)));
}

const ROTATE = 'Revoke this credential at the provider now (it is exposed), issue a new one, and load it through an external secret (clawguard secrets) instead of a file.';

export const SECRET_RULES: SecretRule[] = [
  {
    id: 'secret.aws.access-key-id',
    family: 'aws',
    title: 'AWS access key ID',
    severity: 'critical',
    anchors: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'A3T'],
    re: /(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])/y,
    leftBoundary: ALNUM,
    // AWS's documented example ends in EXAMPLE; fillers like AKIAXXXX... or AKIATESTTEST... are low-entropy.
    accept: (s) => !s.endsWith('EXAMPLE') && !isRepetitive(s.slice(4)) && entropy(s) >= 3,
    prefixOf: (s) => s.slice(0, 4),
    remediation: `Deactivate the key in IAM. ${ROTATE}`,
  },
  {
    id: 'secret.aws.bedrock-api-key',
    family: 'aws',
    title: 'Amazon Bedrock API key',
    severity: 'critical',
    anchors: ['ABSK', 'bedrock-api-key-'],
    re: /ABSK[A-Za-z0-9+/]{100,300}={0,2}(?![A-Za-z0-9+/=])|bedrock-api-key-[A-Za-z0-9+/]{28,}={0,2}/y,
    leftBoundary: ALNUM,
    // Long-lived keys are base64("BedrockAPIKey-..."); short-lived ones base64("bedrock.amazonaws.com/...").
    accept: (s) => (s.startsWith('ABSK') ? b64head(s.slice(4), 20).startsWith('BedrockAPIKey-') : b64head(s.slice(16), 28).startsWith('bedrock.amazonaws.com')),
    prefixOf: (s) => (s.startsWith('ABSK') ? 'ABSK' : 'bedrock-api-key-'),
    remediation: ROTATE,
  },
  {
    id: 'secret.openai.api-key',
    family: 'openai',
    title: 'OpenAI API key',
    severity: 'critical',
    anchors: ['sk-'],
    // Every OpenAI key carries base64("OpenAI") (T3BlbkFJ) between two random halves.
    re: /sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])/y,
    leftBoundary: TOKENCH,
    accept: (s) => !isRepetitive(s.replace(/^sk-(?:proj-|svcacct-|admin-)?/, '').replace('T3BlbkFJ', '')),
    prefixOf: (s) => /^sk-(?:proj-|svcacct-|admin-)?/.exec(s)![0],
    remediation: ROTATE,
  },
  {
    id: 'secret.anthropic.api-key',
    family: 'anthropic',
    title: 'Anthropic API key',
    severity: 'critical',
    anchors: ['sk-ant-api'],
    re: /sk-ant-api0\d-[A-Za-z0-9_-]{93}AA(?![A-Za-z0-9_-])/y,
    leftBoundary: TOKENCH,
    accept: (s) => !isRepetitive(s.slice(14)),
    prefixOf: () => 'sk-ant-api03-',
    remediation: ROTATE,
  },
  {
    id: 'secret.anthropic.admin-key',
    family: 'anthropic',
    title: 'Anthropic Admin API key',
    severity: 'critical',
    anchors: ['sk-ant-admin'],
    re: /sk-ant-admin0\d-[A-Za-z0-9_-]{93}AA(?![A-Za-z0-9_-])/y,
    leftBoundary: TOKENCH,
    accept: (s) => !isRepetitive(s.slice(16)),
    prefixOf: () => 'sk-ant-admin01-',
    remediation: ROTATE,
  },
  {
    id: 'secret.github.token',
    family: 'github',
    title: 'GitHub token',
    severity: 'critical',
    anchors: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    re: /gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9])/y,
    leftBoundary: WORD,
    accept: (s) => entropy(s.slice(4)) >= 3 && !isRepetitive(s.slice(4)),
    prefixOf: (s) => s.slice(0, 4),
    remediation: ROTATE,
  },
  {
    id: 'secret.github.fine-grained-pat',
    family: 'github',
    title: 'GitHub fine-grained personal access token',
    severity: 'critical',
    anchors: ['github_pat_'],
    re: /github_pat_[A-Za-z0-9_]{82}(?![A-Za-z0-9_])/y,
    leftBoundary: WORD,
    accept: (s) => entropy(s.slice(11)) >= 3 && !isRepetitive(s.slice(11)),
    prefixOf: () => 'github_pat_',
    remediation: ROTATE,
  },
  {
    id: 'secret.slack.token',
    family: 'slack',
    title: 'Slack token',
    severity: 'critical',
    anchors: ['xoxb-', 'xoxp-', 'xoxe-', 'xoxe.', 'xoxa-', 'xoxr-', 'xoxs-', 'xoxo-', 'xapp-'],
    re: new RegExp(
      [
        'xoxe\\.xox[bp]-\\d-[A-Za-z0-9]{100,200}', // configuration access token
        'xoxe-\\d-[A-Za-z0-9]{100,200}', // configuration refresh token
        'xox[pe](?:-\\d{10,13}){3}-[A-Za-z0-9-]{28,34}', // user token
        'xoxb-\\d{8,14}-(?:\\d{8,14}-)?[A-Za-z0-9]{18,40}(?![A-Za-z0-9-])', // bot token (current and legacy)
        'xox[os]-\\d+-\\d+-\\d+-[a-fA-F0-9]+', // legacy user/workspace token
        'xox[ar]-(?:\\d-)?[A-Za-z0-9]{8,48}(?![A-Za-z0-9])', // legacy workspace app token
        'xapp-\\d-[A-Z0-9]+-\\d+-[A-Za-z0-9]+', // app-level token
      ].join('|'),
      'y',
    ),
    leftBoundary: ALNUM,
    accept: (s) => !/x{6,}|X{6,}/.test(s),
    prefixOf: (s) => /^(?:xoxe\.)?x[a-z]{3}-/.exec(s)![0],
    remediation: ROTATE,
  },
  {
    id: 'secret.slack.webhook-url',
    family: 'slack',
    title: 'Slack incoming webhook URL',
    severity: 'high',
    anchors: ['hooks.slack.com/'],
    re: /hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9+/]{40,100}(?![A-Za-z0-9+/])/y,
    accept: (s) => !/x{6,}|X{6,}/.test(s) && entropy(s.slice(s.indexOf('/', 16) + 1)) >= 3,
    prefixOf: (s) => s.slice(0, s.indexOf('/', 16) + 1),
    remediation: 'Regenerate the webhook in the Slack app settings and keep the URL in an external secret; anyone holding it can post to the channel.',
  },
  {
    id: 'secret.stripe.api-key',
    family: 'stripe',
    title: 'Stripe secret or restricted key',
    severity: 'critical',
    anchors: ['sk_test_', 'sk_live_', 'sk_prod_', 'rk_test_', 'rk_live_', 'rk_prod_'],
    re: /[sr]k_(?:test|live|prod)_[A-Za-z0-9]{10,99}(?![A-Za-z0-9])/y,
    leftBoundary: WORD,
    accept: (s) => !isRepetitive(s.slice(8)) && entropy(s.slice(8)) >= 3,
    severityOf: (s) => (s.slice(3, 7) === 'test' ? 'medium' : 'critical'),
    prefixOf: (s) => s.slice(0, 8),
    remediation: ROTATE,
  },
  {
    id: 'secret.gcp.api-key',
    family: 'gcp',
    title: 'Google Cloud API key',
    severity: 'critical',
    anchors: ['AIza'],
    re: /AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/y,
    leftBoundary: TOKENCH,
    accept: (s) => entropy(s) >= 3.5 && !hasSequence(s) && !isRepetitive(s.slice(4)) && !isKnownPublicExample(s),
    prefixOf: () => 'AIza',
    remediation: 'Delete or restrict the key in Google Cloud console (APIs & Services > Credentials), issue a new one and keep it in an external secret.',
  },
  {
    id: 'secret.jwt.token',
    family: 'jwt',
    title: 'JSON Web Token',
    severity: 'medium',
    anchors: ['ey'],
    trigger: 'ey[A-Za-z0-9_-]{17}',
    re: /ey[A-Za-z0-9_-]{17,}\.ey[A-Za-z0-9_/\\-]{17,}\.(?:[A-Za-z0-9_/\\+-]{10,}={0,2})?/y,
    leftBoundary: ALNUM,
    accept: (s) => !isJwtIoSample(s) && entropy(s) >= 3.5,
    prefixOf: () => 'ey',
    remediation: 'Treat the token as leaked: revoke it (or rotate the signing key) and do not store bearer tokens in files.',
  },
  {
    id: 'secret.jwt.base64-token',
    family: 'jwt',
    title: 'Base64-encoded JSON Web Token',
    severity: 'medium',
    anchors: ['ZXlK'],
    re: /ZXlK[A-Za-z0-9+/]{60,}={0,2}/y,
    leftBoundary: ALNUM,
    // Decoding must give a JWT (header.payload.), not just any base64 starting with "eyJ".
    accept: (s) => /^ey[A-Za-z0-9_-]{17,}\.ey[A-Za-z0-9_-]{17,}\./.test(b64head(s, Math.min(s.length, 400))),
    prefixOf: () => 'ZXlK',
    remediation: 'Treat the token as leaked: revoke it (or rotate the signing key) and do not store bearer tokens in files.',
  },
];

/** The token from jwt.io's front page (sub 1234567890, "John Doe", iat 1516239022) is documentation. */
function isJwtIoSample(token: string): boolean {
  const payload = token.split('.')[1] ?? '';
  try {
    const claims = JSON.parse(b64decode(payload)) as Record<string, unknown>;
    return claims.sub === '1234567890' && claims.name === 'John Doe' && claims.iat === 1516239022 && Object.keys(claims).length === 3;
  } catch {
    return false;
  }
}

/** Private keys are matched by their armour and need a body; handled in scanner.ts. */
export const PRIVATE_KEY_RULE = {
  id: 'secret.private-key',
  family: 'private-key' as const,
  title: 'Private key',
  severity: 'critical' as Severity,
  remediation: 'Remove the key from the tree, treat it as compromised (replace it wherever it is trusted) and keep keys in a secret store or a 0600 file outside the project.',
};

export const GENERIC_RULES = {
  assignment: {
    id: 'secret.generic.assignment',
    family: 'generic' as const,
    title: 'Hard-coded secret in an assignment',
    severity: 'high' as Severity,
    remediation: 'Move the value to an external secret (clawguard secrets / a vault) and reference it by name; rotate it, since it has been stored in plain text.',
  },
  highEntropy: {
    id: 'secret.generic.high-entropy',
    family: 'generic' as const,
    title: 'High-entropy value in an environment file',
    severity: 'medium' as Severity,
    remediation: 'If this is a credential, move it to an external secret and rotate it; environment files are easily committed or copied.',
  },
  awsSecret: {
    id: 'secret.aws.secret-access-key',
    family: 'aws' as const,
    title: 'AWS secret access key',
    severity: 'critical' as Severity,
    remediation: 'Deactivate the access key pair in IAM, create a new one and load it through an external secret.',
  },
};

