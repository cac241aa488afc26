/**
 * A body as an agent gets it (an HTTP response, a file): decoded (the egress guard has undone the
 * declared codings; bytes that only look compressed or UTF-16 are looked into here), turned into
 * text (UTF-8, a declared UTF-16, else base64), redacted whole, and only then cut to the size the
 * agent asked for. Nothing the agent chooses — maxBytes, where the cap falls, an encoding — decides what
 * part of a secret is shown: the cut is made on redacted text and never inside a replacement.
 */
import { hiddenLayers, sniffCoding } from '../../sandbox/content-decoding.js';
import type { BoundedText, BoundOptions } from './redactor.js';

export interface BodyRedactor {
  redactBounded(s: string, where: string, o: BoundOptions): BoundedText;
  /** Longest text one catch can replace. */
  maxSpan(): number;
}

export interface AgentBody {
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  truncated: boolean;
  /** The body handed on is not the bytes received: it was redacted, cut, or decoded here. */
  changed: boolean;
  /** Decodings made here (a hidden compressed layer, a UTF-16 charset). */
  decoded: string[];
}

/** How many bytes past the agent's limit to read so that a secret crossing the limit is read whole. */
export function readAhead(r: BodyRedactor | undefined): number {
  return r ? 3 * r.maxSpan() + 4 : 0;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-16 that says nothing about itself: ASCII text in it has a zero in every other byte. */
function utf16Guess(buf: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  const n = Math.min(buf.length, 4096) & ~1;
  if (n < 8) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (buf[i] === 0) even++;
    if (buf[i + 1] === 0) odd++;
  }
  const half = n / 2;
  if (odd > half * 0.3 && even < half * 0.05) return 'utf-16le';
  if (even > half * 0.3 && odd < half * 0.05) return 'utf-16be';
  return undefined;
}

/** A UTF-16 charset the content type declares, or a byte-order mark shows. */
function utf16Of(buf: Buffer, contentType: string | undefined): 'utf-16le' | 'utf-16be' | undefined {
  const m = /charset\s*=\s*"?([\w-]+)/i.exec(contentType ?? '');
  const cs = m?.[1]!.toLowerCase();
  if (buf[0] === 0xff && buf[1] === 0xfe) return 'utf-16le';
  if (buf[0] === 0xfe && buf[1] === 0xff) return 'utf-16be';
  if (cs === 'utf-16le' || cs === 'utf-16') return 'utf-16le';
  if (cs === 'utf-16be') return 'utf-16be';
  return undefined;
}

/** The bytes as text: as UTF-16 when asked, else UTF-8 when they are (a character cut by the cap is dropped), else base64. */
function textOf(buf: Buffer, truncated: boolean, utf16?: 'utf-16le' | 'utf-16be'): { text: string; encoding: 'utf8' | 'base64'; via?: string } {
  if (utf16) {
    try {
      return { text: new TextDecoder(utf16, { fatal: true }).decode(truncated ? buf.subarray(0, buf.length & ~1) : buf), encoding: 'utf8', via: utf16 };
    } catch {
      /* not UTF-16 after all */
    }
  }
  let end = buf.length;
  if (truncated) {
    // Back off an incomplete multi-byte sequence at the cut.
    let i = end - 1;
    while (i >= 0 && i > end - 4 && (buf[i]! & 0xc0) === 0x80) i--;
    if (i >= 0 && buf[i]! >= 0xc0) {
      const need = buf[i]! >= 0xf0 ? 4 : buf[i]! >= 0xe0 ? 3 : 2;
      if (end - i < need) end = i;
    }
  }
  try {
    return { text: fatalUtf8.decode(buf.subarray(0, end)), encoding: 'utf8' };
  } catch {
    return { text: buf.toString('base64'), encoding: 'base64' };
  }
}

export interface ShapeOptions {
  /** Most bytes of body the agent gets. */
  maxBytes: number;
  /** The reader stopped at its cap (there was more). */
  truncated: boolean;
  contentType?: string;
  /**
   * A UTF-16 body (declared, or with a byte-order mark) is handed on as text (an HTTP response).
   * Without this, bytes stay bytes (a file) and UTF-16 is only looked into.
   */
  charsets?: boolean;
  where: string;
}

type Shaped = BoundedText & { encoding: 'utf8' | 'base64'; via?: string };

/**
 * Shapes a received body for the agent. `buf` must hold at least readAhead() bytes more than
 * `maxBytes` when the response is that long, so every catch near the cut is whole.
 */
export async function agentBody(buf: Buffer, r: BodyRedactor | undefined, o: ShapeOptions): Promise<AgentBody> {
  const u16 = utf16Of(buf, o.contentType);
  if (!r) {
    const cut = buf.length > o.maxBytes;
    const t = textOf(cut ? buf.subarray(0, o.maxBytes) : buf, cut || o.truncated, o.charsets ? u16 : undefined);
    return { body: t.text, bodyEncoding: t.encoding, truncated: cut || o.truncated, changed: cut || !!t.via, decoded: t.via ? [t.via] : [] };
  }
  const span = r.maxSpan();
  const shape = (b: Buffer, truncated: boolean, utf16?: 'utf-16le' | 'utf-16be'): Shaped => {
    const t = textOf(b, truncated, utf16);
    const keep = t.encoding === 'utf8' ? o.maxBytes : 4 * Math.ceil(o.maxBytes / 3);
    const bounded = r.redactBounded(t.text, o.where, { keep, measure: t.encoding === 'utf8' ? 'utf8' : 'chars', ...(truncated ? { safeEnd: Math.max(0, t.text.length - span) } : {}) });
    return { ...bounded, encoding: t.encoding, ...(t.via ? { via: t.via } : {}) };
  };
  const done = (x: Shaped, decoded: string[]): AgentBody => ({ body: x.text, bodyEncoding: x.encoding, truncated: x.truncated || o.truncated, changed: x.caught > 0 || x.truncated || decoded.length > 0, decoded });
  const out = shape(buf, o.truncated, o.charsets ? u16 : undefined);
  if (out.caught > 0 || out.via) return done(out, out.via ? [out.via] : []);
  // Bytes that hide text the redactor cannot see as it reads them: UTF-16 (declared, marked, or
  // undeclared), or a body compressed without saying so (a lying content-encoding, a .gz file).
  // Look inside; if a reading holds a catch, the agent gets that reading, redacted, instead.
  const asUtf16 = (b: Buffer, truncated: boolean, decoded: string[]): AgentBody | undefined => {
    const cs = utf16Of(b, o.contentType) ?? utf16Guess(b);
    if (!cs) return undefined;
    const inner = shape(b, truncated, cs);
    return inner.caught > 0 && inner.via ? done(inner, [...decoded, cs]) : undefined;
  };
  const direct = asUtf16(buf, o.truncated, []);
  if (direct) return direct;
  if (out.encoding === 'base64' && sniffCoding(buf)) {
    const limit = buf.length + 3 * span + 4 + o.maxBytes;
    const decoded: string[] = [];
    let outer = buf;
    for (const layer of await hiddenLayers(buf, limit)) {
      decoded.push(`${sniffCoding(outer)} (undeclared)`);
      const truncated = o.truncated || layer.length >= limit;
      const inner = shape(layer, truncated);
      if (inner.caught > 0) return done(inner, decoded);
      const wide = asUtf16(layer, truncated, decoded);
      if (wide) return wide;
      outer = layer;
    }
  }
  return done(out, []);
}
