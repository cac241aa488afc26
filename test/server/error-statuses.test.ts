/**
 * The HTTP door answers a failed tool call with the status of the one code table (no route patch):
 * every table code thrown by a real tool behind a real gateway comes back with its own status;
 * a plain failure is 422 tool_failed; a code outside the table, or a hostile thrown value, is 500
 * `internal` with nothing of it in the body, and the gateway keeps answering /healthz.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { ClawguardError, ERROR_CODES, type ErrorCode } from '../../src/errors/index.js';
import { mulberry32 } from '../helpers/prng.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

let g: TestGateway;
let thrown: () => unknown = () => undefined;
const INTERNAL = { code: 'internal', message: 'internal error (see the gateway log)' };

before(async () => {
  g = await startGateway(
    {
      agents: { anonymous: { tools: { allow: ['test.raise'] }, warmPool: 0 } },
      security: { zeroTrust: { enabled: true, policies: { agentCommunication: { requireAuthentication: false } } } },
    },
    { extraTools: ['test.raise'] },
  );
  const execute = async () => {
    throw thrown();
  };
  g.gw.tools.register({ name: 'test.raise', description: 'throws what the test says (test)', args: { safeParse: (v: unknown) => ({ success: true, data: v }) } as never, execute });
});
after(async () => g?.close());

/** Unauthenticated (anonymous) call of the raising tool, without the operator token. */
const raise = async (what: () => unknown): Promise<{ status: number; json: any; text: string }> => {
  thrown = what;
  const res = await request(`${g.url}/v1/tools/test.raise`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const text = await res.body.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: the assertions say so */
  }
  return { status: res.statusCode, json, text };
};

async function healthy(): Promise<void> {
  const h = await g.call('GET', '/healthz');
  assert.equal(h.status, 200, h.text);
}

test('a tool throwing each code of the table is answered with that code and its table status', async () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const r = await raise(() => new ClawguardError(code, `raised ${code}`));
    assert.equal(r.status, ERROR_CODES[code].status, `${code}: ${r.text}`);
    assert.deepEqual(r.json, { ok: false, error: { code, message: `raised ${code}` } }, code);
  }
  await healthy();
});

test('the codes the route used to patch to 422 now have their own statuses from the table', async () => {
  assert.equal((await raise(() => new Error('disk on fire'))).status, 422, 'a plain failure is tool_failed');
  assert.deepEqual((await raise(() => new Error('disk on fire'))).json.error.code, 'tool_failed');
  assert.equal((await raise(() => new ClawguardError('timeout', 't'))).status, 504);
  assert.equal((await raise(() => new ClawguardError('killed', 'k'))).status, 409);
  assert.equal((await raise(() => new ClawguardError('internal', 'i'))).status, 500, 'internal is a 500, not a 422');
  await healthy();
});

test('a code outside the table (a cast, a library error) is 500 internal with no detail leaked', async () => {
  for (const code of ['no_such_code', 'constructor', '__proto__', 'toString', 'ECONNRESET', '']) {
    const r = await raise(() => new ClawguardError(code as ErrorCode, `leak-${code}`));
    assert.equal(r.status, 500, `${code}: ${r.text}`);
    assert.deepEqual(r.json, { ok: false, error: INTERNAL }, code);
    assert.ok(!r.text.includes('leak-'), r.text);
  }
  await healthy();
});

test('hostile thrown values (fixed seed): always a 4xx/5xx with a table code, the gateway keeps answering', async () => {
  const trap = () => {
    throw new Error('trap');
  };
  const makers: Array<() => unknown> = [
    () => null,
    () => undefined,
    () => Symbol('s'),
    () => 10n ** 40n,
    () => 'x'.repeat(5 << 20),
    () => ({ code: 'denied', message: 'not a ClawguardError' }),
    () => ({ get message() {
      return trap();
    } }),
    () => new Proxy({}, { get: trap, getPrototypeOf: trap }),
    () => Object.assign(new Error('e'), { code: 'constructor' }),
    () => new ClawguardError(Symbol('c') as unknown as ErrorCode, 'symbol code'),
  ];
  const rnd = mulberry32(14);
  for (let i = 0; i < 60; i++) {
    const k = i < makers.length ? i : Math.floor(rnd() * makers.length);
    const r = await raise(makers[k]!);
    assert.ok(r.status >= 400 && r.status <= 599, `maker ${k}: ${r.status}`);
    // A tool result (ok: false), or for a Symbol code, which no type allows, the error handler's 500.
    assert.ok(r.json?.ok === false || k === 9, `maker ${k}: ${r.text.slice(0, 200)}`);
    const code = r.json.error.code;
    assert.ok(Object.hasOwn(ERROR_CODES, code), `maker ${k}: ${code}`);
    assert.equal(r.status, ERROR_CODES[code as ErrorCode].status, `maker ${k}`);
  }
  await healthy();
});
