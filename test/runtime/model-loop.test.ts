import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type TestGateway, startGateway, tempDir, writeAgent } from '../helpers/gateway.js';
import { type ModelLookalike, startModelLookalike } from '../helpers/model-lookalike.js';

const KEY = 'sk-test-do-not-leak-1234567890';
let model: ModelLookalike;
let g: TestGateway;

before(async () => {
  process.env.CG_TEST_MODEL_KEY = KEY;
  model = await startModelLookalike((body, n) => {
    // Each conversation: first ask for the time, then answer with what the tool returned.
    const last = body.messages[body.messages.length - 1];
    const isToolResult = last.role === 'tool' || (Array.isArray(last.content) && last.content[0]?.type === 'tool_result');
    if (!isToolResult) return { content: '', toolCalls: [{ id: `call_${n}`, name: 'system.time', arguments: {} }] };
    return { content: 'the time is known' };
  });
  const dir = tempDir('cg-model-');
  g = await startGateway({
    models: {
      local: { type: 'openai-compatible', baseUrl: `${model.url}/v1`, apiKeyEnv: 'CG_TEST_MODEL_KEY', allowPrivate: true },
      anthropic: { type: 'anthropic', baseUrl: model.url, apiKeyEnv: 'CG_TEST_MODEL_KEY', allowPrivate: true },
    },
    agents: {
      loop: { model: 'local/gpt-oss-120b', tools: { allow: ['system.time'] } },
      claude: { model: 'claude-opus-4-6-thinking', tools: { allow: ['system.time'] } },
      notools: { model: 'local/gpt-oss-120b' },
      peek: { model: 'local/x', entry: writeAgent(dir, 'peek.js', `export default async (i, ctx) => {
        const reply = await ctx.model.chat({ messages: [{ role: 'user', content: 'hi' }] });
        return { reply, ctxKeys: Object.keys(ctx).sort(), env: typeof process };
      }`) },
    },
  });
});
after(async () => {
  await g?.close();
  await model?.close();
});

test('built-in tool-calling loop over an OpenAI-compatible server (local/gpt-oss-120b)', async () => {
  const before = model.requests.length;
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'loop', input: { prompt: 'what time is it?' } });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  assert.equal(r.json.output.answer, 'the time is known');
  assert.equal(r.json.output.steps, 2);
  assert.deepEqual(r.json.output.toolCalls, [{ name: 'system.time', ok: true }]);
  const reqs = model.requests.slice(before);
  assert.equal(reqs.length, 2);
  assert.equal(reqs[0]!.path, '/v1/chat/completions');
  assert.equal(reqs[0]!.body.model, 'gpt-oss-120b');
  assert.equal(reqs[0]!.headers.authorization, `Bearer ${KEY}`, 'the gateway adds the key');
  assert.deepEqual(reqs[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name), ['system.time']);
  assert.equal(reqs[1]!.body.messages.at(-1).role, 'tool');
  assert.ok(!JSON.stringify(r.json).includes(KEY), 'the key never reaches the run');
});

test('the same loop over the Anthropic Messages API', async () => {
  const before = model.requests.length;
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'claude', input: 'time?' });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  assert.equal(r.json.output.answer, 'the time is known');
  const reqs = model.requests.slice(before);
  assert.equal(reqs[0]!.path, '/v1/messages');
  assert.equal(reqs[0]!.headers['x-api-key'], KEY);
  assert.equal(reqs[0]!.headers['anthropic-version'], '2023-06-01');
  assert.equal(reqs[1]!.body.messages.at(-1).content[0].type, 'tool_result');
});

test('a tool the model asks for but the profile does not allow is denied, and the loop goes on', async () => {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'notools', input: 'time?' });
  assert.equal(r.json.state, 'succeeded');
  assert.deepEqual(r.json.output.toolCalls, [{ name: 'system.time', ok: false }]);
});

test('ctx offers exactly runId, profile, signal, log, tools, model', async () => {
  const r = await g.call('POST', '/v1/runs?wait=1', { profile: 'peek' });
  assert.equal(r.json.state, 'succeeded', JSON.stringify(r.json));
  assert.deepEqual(r.json.output.ctxKeys, ['log', 'model', 'profile', 'runId', 'signal', 'tools']);
  assert.equal(r.json.output.env, 'undefined');
  assert.equal(r.json.output.reply.content, '');
});
