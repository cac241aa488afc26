/** A raw HTTP/1.1 request (as text or bytes) → SignedRequest; used by `identity verify` and tests. */
import { ClawguardError } from '../../errors/index.js';
import { fieldValue, type SignedRequest } from './message.js';

export interface RawRequest extends SignedRequest {
  requestTarget: string;
}

/** CRLF or bare LF line endings; obs-fold is refused; the body is cut at Content-Length when given. */
export function parseRawRequest(raw: Uint8Array, scheme = 'https'): RawRequest {
  const buf = Buffer.from(raw);
  let headEnd = -1;
  let sepLen = 0;
  for (let i = 0; i < buf.length - 1; i++) {
    if (buf[i] === 0x0a && buf[i + 1] === 0x0a) {
      headEnd = i;
      sepLen = 2;
      break;
    }
    if (buf[i] === 0x0a && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) {
      headEnd = i;
      sepLen = 3;
      break;
    }
  }
  const head = (headEnd < 0 ? buf : buf.subarray(0, headEnd)).toString('latin1');
  const lines = head.split(/\r?\n/);
  const start = lines.shift() ?? '';
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.[01]\r?$/.exec(start);
  if (!m) throw new ClawguardError('bad_request', `not an HTTP/1.1 request line: ${JSON.stringify(start.slice(0, 120))}`);
  const headers: Array<readonly [string, string]> = [];
  for (const line of lines) {
    if (line === '') continue;
    if (/^[ \t]/.test(line)) throw new ClawguardError('bad_request', 'obsolete line folding (a header line starting with whitespace) is not accepted');
    const i = line.indexOf(':');
    if (i <= 0) throw new ClawguardError('bad_request', `malformed header line: ${JSON.stringify(line.slice(0, 120))}`);
    const name = line.slice(0, i);
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new ClawguardError('bad_request', `malformed header name: ${JSON.stringify(name)}`);
    headers.push([name, line.slice(i + 1).trim()]);
  }
  let body = headEnd < 0 ? Buffer.alloc(0) : buf.subarray(headEnd + sepLen);
  const cl = fieldValue(headers, 'content-length');
  if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) throw new ClawguardError('bad_request', `Content-Length ${JSON.stringify(cl)} is not a number`);
    const n = Number(cl);
    if (n > body.length) throw new ClawguardError('bad_request', `Content-Length is ${n} but only ${body.length} body bytes follow`);
    body = body.subarray(0, n);
  }
  const target = m[2]!;
  const host = fieldValue(headers, 'host');
  let targetUri: string;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target)) targetUri = target;
  else {
    if (!host) throw new ClawguardError('bad_request', 'the request has no Host header, so its target URI is unknown');
    if (!target.startsWith('/')) throw new ClawguardError('bad_request', `request target ${JSON.stringify(target)} must start with "/"`);
    targetUri = `${scheme}://${host}${target}`;
  }
  return { method: m[1]!, targetUri, requestTarget: target, headers, body };
}
