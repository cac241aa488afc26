/**
 * Response bodies as the server meant them: every content coding and transfer coding the server
 * applied (gzip, deflate, br, zstd where Node has it; nested; x-gzip) undone here, bounded, so that
 * what is checked for secrets is what an agent could recover. A coding that cannot be undone, a
 * body that does not decode as its header says, or encoded input far larger than its output is a
 * refusal, never a raw pass-through. Decoded output is capped: a decompression bomb stops at the cap.
 */
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ClawguardError } from '../errors/index.js';

export type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';

type ZstdZlib = { createZstdDecompress?: () => Transform };
const zstd = (zlib as unknown as ZstdZlib).createZstdDecompress;

/** Codings this Node can undo. */
export const DECODABLE: readonly Coding[] = ['gzip', 'deflate', 'br', ...(zstd ? (['zstd'] as const) : [])];

/** More layers than this is not a real server. */
const MAX_LAYERS = 4;
/** Encoded input may exceed the decoded cap by this much (headers, trailers, incompressible data). */
const RAW_SLACK = 64 * 1024;

const ALIASES: Record<string, Coding> = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate', br: 'br', zstd: 'zstd' };

function tokens(v: string | string[] | undefined): string[] {
  const s = Array.isArray(v) ? v.join(',') : (v ?? '');
  return s.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '' && t !== 'identity');
}

/**
 * The codings on a response body in the order they were applied (content codings, then transfer
 * codings other than chunked, which the HTTP parser has undone). Throws for one this gateway cannot undo.
 */
export function codingsOf(headers: Record<string, string | string[] | undefined>, host: string): Coding[] {
  const te = tokens(headers['transfer-encoding']).filter((t) => t !== 'chunked');
  const all = [...tokens(headers['content-encoding']), ...te];
  const out: Coding[] = [];
  for (const t of all) {
    const c = ALIASES[t];
    if (!c || !DECODABLE.includes(c)) throw new ClawguardError('tool_failed', `host "${host}" sent a body in encoding "${t.slice(0, 40)}", which this gateway cannot decode (it decodes ${DECODABLE.join(', ')}); the response is refused`);
    out.push(c);
  }
  if (out.length > MAX_LAYERS) throw new ClawguardError('tool_failed', `host "${host}" sent a body in ${out.length} nested encodings; more than ${MAX_LAYERS} is refused`);
  return out;
}

/** "deflate" is zlib-wrapped by the spec and raw deflate from some servers: the first byte tells. */
class Inflate extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined;
  private flushed: TransformCallback | undefined;

  constructor(private readonly zopts: zlib.ZlibOptions) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.inner) {
      const inner = (chunk[0]! & 0x0f) === 0x08 ? zlib.createInflate(this.zopts) : zlib.createInflateRaw(this.zopts);
      inner.on('data', (d: Buffer) => this.push(d));
      inner.on('error', (e) => this.destroy(e));
      inner.on('end', () => this.flushed?.());
      this.inner = inner;
    }
    if (this.inner.write(chunk)) cb();
    else this.inner.once('drain', () => cb());
  }

  override _flush(cb: TransformCallback): void {
    if (!this.inner) return cb();
    this.flushed = cb;
    this.inner.end();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }
}

/** `tolerant`: input that stops early yields what it decoded so far instead of an error (a body already cut at a cap). */
function decoder(c: Coding, tolerant: boolean): Transform {
  const z = tolerant ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {};
  switch (c) {
    case 'gzip':
      return zlib.createGunzip(z);
    case 'deflate':
      return new Inflate(z);
    case 'br':
      return zlib.createBrotliDecompress(tolerant ? { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH } : {});
    case 'zstd':
      return zstd!();
  }
}

const ENOUGH = new Error('decoded cap reached');
const RAW_TOO_LARGE = new Error('encoded input too large');

export interface Decoded {
  buf: Buffer;
  /** The cap was reached: there was more. */
  truncated: boolean;
}

/**
 * Reads `source` through the decoders of `codings` (undone last-applied first) into at most `limit`
 * bytes. The source is destroyed as soon as the cap is reached.
 */
export async function readDecoded(source: Readable | AsyncIterable<Buffer>, codings: readonly Coding[], limit: number, host: string, tolerant = false): Promise<Decoded> {
  const chunks: Buffer[] = [];
  let total = 0;
  let truncated = false;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (total + chunk.length > limit) {
        chunks.push(chunk.subarray(0, limit - total));
        total = limit;
        truncated = true;
        return cb(ENOUGH);
      }
      chunks.push(chunk);
      total += chunk.length;
      cb();
    },
  });
  let raw = 0;
  const rawLimit = limit + RAW_SLACK;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      raw += chunk.length;
      if (raw > rawLimit && codings.length > 0) return cb(RAW_TOO_LARGE);
      cb(null, chunk);
    },
  });
  const input = source instanceof Readable ? source : Readable.from(source);
  let failed: Error | undefined;
  const decoders = [...codings].reverse().map((c) => decoder(c, tolerant).once('error', (e: Error) => (failed ??= e)));
  try {
    await pipeline([input, counter, ...decoders, sink]);
  } catch (e) {
    if (e === ENOUGH) return { buf: Buffer.concat(chunks, total), truncated };
    if (raw === 0 && failed) return { buf: Buffer.alloc(0), truncated: false }; // no body: nothing was encoded
    if (e === RAW_TOO_LARGE) throw new ClawguardError('tool_failed', `host "${host}" sent more than ${rawLimit} encoded bytes that did not decode to ${limit}; the response is refused`);
    if (failed) throw new ClawguardError('tool_failed', `host "${host}" sent a body that does not decode as ${codings.join(', ')} (${failed.message}); the response is refused`);
    throw e;
  }
  return { buf: Buffer.concat(chunks, total), truncated };
}

/** A coding a body's first bytes announce (gzip, zlib-wrapped deflate, zstd), for bodies that do not say so. Brotli has no signature. */
export function sniffCoding(buf: Buffer): Coding | undefined {
  if (buf.length < 4) return undefined;
  if (buf[0] === 0x1f && buf[1] === 0x8b && buf[2] === 0x08) return 'gzip';
  if (buf[0] === 0x28 && buf[1] === 0xb5 && buf[2] === 0x2f && buf[3] === 0xfd) return DECODABLE.includes('zstd') ? 'zstd' : undefined;
  if ((buf[0]! & 0x0f) === 0x08 && buf[0]! >> 4 <= 7 && ((buf[0]! << 8) | buf[1]!) % 31 === 0) return 'deflate';
  return undefined;
}

/**
 * What a body that looks compressed holds, layer by layer (at most MAX_LAYERS), each decoded up to
 * `limit` (a body cut short yields what it holds so far). A layer that fails to decode ends the
 * list: the bytes were not what they looked like.
 */
export async function hiddenLayers(buf: Buffer, limit: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let cur = buf;
  for (let i = 0; i < MAX_LAYERS; i++) {
    const c = sniffCoding(cur);
    if (!c) break;
    try {
      cur = (await readDecoded(Readable.from([cur]), [c], limit, '', true)).buf;
    } catch {
      break;
    }
    out.push(cur);
  }
  return out;
}
