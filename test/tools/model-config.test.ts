/** models.<name>.allowPrivate and baseUrl as config check reads them: a boolean opt-in, an http(s) URL. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { resolveModel } from '../../src/tools/index.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, '/nonexistent/clawguard.json');
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

test('allowPrivate is a boolean on a provider, kept when true, absent otherwise', () => {
  const c = parseConfig({ models: { v: { type: 'openai-compatible', baseUrl: 'http://10.0.0.5:8000/v1/', allowPrivate: true }, o: { type: 'anthropic', baseUrl: 'https://api.anthropic.com', allowPrivate: false } } }, '/nonexistent/clawguard.json');
  assert.equal(c.models.v!.allowPrivate, true);
  assert.equal(c.models.v!.baseUrl, 'http://10.0.0.5:8000/v1');
  assert.equal(c.models.o!.allowPrivate, undefined);
  for (const bad of ['yes', 1, ['127.0.0.1']]) {
    assert.equal(problems({ models: { v: { type: 'openai-compatible', baseUrl: 'http://10.0.0.5/v1', allowPrivate: bad } } }).length, 1, JSON.stringify(bad));
  }
});

test('a provider baseUrl must be http or https', () => {
  for (const u of ['file:///etc/passwd', 'ftp://models.example/v1', 'gopher://127.0.0.1:70/']) {
    assert.deepEqual(problems({ models: { v: { type: 'openai-compatible', baseUrl: u } } }), ['models.v.baseUrl: expected an http or https URL'], u);
  }
});

test('the built-in "local" provider is on loopback and says so; the hosted ones do not', () => {
  assert.equal(resolveModel('local/x', {}).provider.allowPrivate, true);
  assert.equal(resolveModel('openai/gpt', {}).provider.allowPrivate, undefined);
  assert.equal(resolveModel('claude-x', {}).provider.allowPrivate, undefined);
});
