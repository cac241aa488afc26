/**
 * The one table of error codes: every code has a 4xx/5xx status and a meaning, the HTTP layer
 * answers with exactly the table's status, and a code outside it (a cast, a library's code, a
 * hostile thrown value) is a 500 `internal` whose body carries nothing of what was thrown.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClawguardError, ERROR_CODES, type ErrorCode, errorShape, httpStatusOf, isErrorCode } from '../../src/errors/index.js';
import { REJECTION_CODES } from '../../src/identity/index.js';
import { publicError, statusFor, toErrorBody } from '../../src/server/error-map.js';
import { mulberry32 } from '../helpers/prng.js';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const INTERNAL = { code: 'internal', message: 'internal error (see the gateway log)' };

test('every code of the table maps to a 4xx or 5xx status and says what it means', () => {
  assert.ok(CODES.length >= 50, `${CODES.length} codes`);
  for (const code of CODES) {
    const { status, meaning } = ERROR_CODES[code];
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
    assert.ok(meaning.length > 10, `${code} has a meaning`);
    assert.match(code, /^[a-z][a-z_]*[a-z]$/, 'codes are snake_case');
    assert.equal(isErrorCode(code), true);
    assert.equal(httpStatusOf(code), status);
    assert.equal(statusFor(code), status);
  }
});

test('the codes the issue named have their statuses, and internal is the only 500', () => {
  const expected: Partial<Record<ErrorCode, number>> = { bad_request: 400, unauthenticated: 401, denied: 403, not_found: 404, conflict: 409, killed: 409, tool_failed: 422, bad_agent_data: 422, memory_limit: 422, protocol_violation: 422, queue_full: 429, internal: 500, model_error: 502, store_unavailable: 503, audit_unavailable: 503, timeout: 504 };
  for (const [code, status] of Object.entries(expected)) assert.equal(httpStatusOf(code as ErrorCode), status, code);
  assert.deepEqual(CODES.filter((c) => ERROR_CODES[c].status === 500), ['internal']);
});

test('every identity refusal code is in the table as a 401', () => {
  for (const code of REJECTION_CODES) assert.equal(ERROR_CODES[code].status, 401, code);
});

test('error-map answers a ClawguardError of every code with the table status, its code and message', () => {
  for (const code of CODES) {
    const r = toErrorBody(new ClawguardError(code, `message of ${code}`, code === 'queue_full' ? { retryAfter: 3 } : {}));
    assert.equal(r.status, ERROR_CODES[code].status, code);
    assert.deepEqual(r.body, { error: { code, message: `message of ${code}` } });
    if (code === 'queue_full') assert.equal(r.retryAfter, 3);
    assert.deepEqual(publicError(code, 'm'), { status: ERROR_CODES[code].status, error: { code, message: 'm' } });
  }
});

test('an unknown code cannot be constructed at type level', () => {
  // @ts-expect-error: not a code of the table (tsc fails the build if this ever compiles)
  const e = new ClawguardError('no_such_code', 'x');
  // @ts-expect-error: nor can a plain string be passed where ErrorCode is required
  httpStatusOf('teapot' as string);
  assert.equal(e.code, 'no_such_code', 'the cast reaches runtime unchanged, so error-map must guard it');
});

// Object.prototype names are not codes: a lookup by `in` or by index would have found them.
const NOT_CODES = ['no_such_code', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'ECONNRESET', 'SQLITE_MISUSE', 'FST_ERR_VALIDATION_x', '', 'INTERNAL', ' internal', 'internal\u0000'];

test('at runtime a code outside the table is 500 internal with nothing of the error in the body', () => {
  for (const code of NOT_CODES) {
    assert.equal(isErrorCode(code), false, JSON.stringify(code));
    assert.equal(statusFor(code), 500, JSON.stringify(code));
    assert.equal(httpStatusOf(code as ErrorCode), 500, JSON.stringify(code));
    const secret = `secret-detail-${code}`;
    const cast = toErrorBody(new ClawguardError(code as ErrorCode, secret, { details: { secret } }));
    assert.deepEqual(cast, { status: 500, body: { error: INTERNAL } }, JSON.stringify(code));
    const lib = toErrorBody(Object.assign(new Error(secret), { code }));
    assert.deepEqual(lib, { status: 500, body: { error: INTERNAL } }, `library error ${JSON.stringify(code)}`);
    assert.deepEqual(publicError(code, secret), { status: 500, error: INTERNAL });
  }
});

test('hostile thrown values: error-map never throws and never leaks', () => {
  const trap = () => {
    throw new Error('trap-leak');
  };
  const hostile: unknown[] = [
    undefined,
    null,
    0,
    Symbol('leak'),
    10n ** 30n,
    'a thrown string leak',
    { code: Symbol('leak') },
    { code: 42, message: 'leak' },
    { code: { toString: () => 'internal' }, message: 'leak' },
    { get code() {
      return trap();
    } },
    { statusCode: 1e9, message: 'leak' },
    { statusCode: Number.NaN, message: 'leak' },
    new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap }),
    new Proxy(new ClawguardError('denied', 'leak'), { get: trap }),
    Object.create(null),
    Object.assign(new Error('x'.repeat(5 << 20)), { code: 'x'.repeat(5 << 20) }),
    new ClawguardError(Symbol('s') as unknown as ErrorCode, 'leak'),
  ];
  for (const [i, e] of hostile.entries()) {
    const r = toErrorBody(e);
    assert.equal(r.status, 500, `value ${i}`);
    assert.deepEqual(r.body, { error: INTERNAL }, `value ${i}`);
  }
});

test('randomised codes (fixed seed): status is the table one exactly when the code is in the table', () => {
  const rnd = mulberry32(0x14e7);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz_';
  for (let i = 0; i < 5000; i++) {
    const base = rnd() < 0.5 ? CODES[Math.floor(rnd() * CODES.length)]! : '';
    let code = base;
    const edits = Math.floor(rnd() * 3);
    for (let k = 0; k < edits; k++) code += alphabet[Math.floor(rnd() * alphabet.length)];
    if (rnd() < 0.1) code = code.toUpperCase();
    const known = Object.hasOwn(ERROR_CODES, code);
    const r = toErrorBody(new ClawguardError(code as ErrorCode, 'm'));
    assert.equal(r.status, known ? ERROR_CODES[code as ErrorCode].status : 500, code);
    assert.equal(r.body.error.code, known ? code : 'internal', code);
  }
});

test('errorShape keeps table codes and falls back to one for anything else', () => {
  assert.deepEqual(errorShape(new ClawguardError('timeout', 't')), { code: 'timeout', message: 't' });
  assert.deepEqual(errorShape(new Error('e'), 'tool_failed'), { code: 'tool_failed', message: 'e' });
  assert.deepEqual(errorShape('s'), { code: 'internal', message: 's' });
});
