/**
 * The body of an HTTP response as an agent gets it: decoded (the egress guard has undone the
 * declared codings; a body that only looks compressed is looked into here), turned into text (UTF-8,
 * a declared or marked UTF-16, else base64), redacted whole, and only then cut to the size the agent
 * asked for. Nothing the agent chooses — maxBytes, where the cap falls, an encoding — decides what
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

/** The bytes as text: UTF-8 when they are (a character cut by the cap is dropped), else base64. */
function textOf(buf: Buffer, truncated: boolean, contentType: string | undefined): { text: string; encoding: 'utf8' | 'base64'; via?: string } {
  const u16 = utf16Of(buf, contentType);
  if (u16) {
    try {
      return { text: new TextDecoder(u16, { fatal: true }).decode(truncated ? buf.subarray(0, buf.length & ~1) : buf), encoding: 'utf8', via: u16 };
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
  /** The guard stopped reading at its cap (there was more). */
  truncated: boolean;
  contentType?: string;
  where: string;
}

/**
 * Shapes a received body for the agent. `buf` must hold at least readAhead() bytes more than
 * `maxBytes` when the response is that long, so every catch near the cut is whole.
 */
export async function agentBody(buf: Buffer, r: BodyRedactor | undefined, o: ShapeOptions): Promise<AgentBody> {
  const decoded: string[] = [];
  if (!r) {
    const cut = buf.length > o.maxBytes;
    const t = textOf(cut ? buf.subarray(0, o.maxBytes) : buf, cut || o.truncated, o.contentType);
    return { body: t.text, bodyEncoding: t.encoding, truncated: cut || o.truncated, changed: cut, decoded };
  }
  const span = r.maxSpan();
  const shape = (b: Buffer, truncated: boolean): BoundedText & { encoding: 'utf8' | 'base64'; via?: string } => {
    const t = textOf(b, truncated, o.contentType);
    const keep = t.encoding === 'utf8' ? o.maxBytes : 4 * Math.ceil(o.maxBytes / 3);
    const bounded = r.redactBounded(t.text, o.where, { keep, measure: t.encoding === 'utf8' ? 'utf8' : 'chars', ...(truncated ? { safeEnd: Math.max(0, t.text.length - span) } : {}) });
    return { ...bounded, encoding: t.encoding, ...(t.via ? { via: t.via } : {}) };
  };
  const out = shape(buf, o.truncated);
  if (out.via) decoded.push(out.via);
  // A body that is compressed without saying so (a lying content-encoding, a .gz the host serves
  // for the request) could carry a value the redactor cannot see: look inside; if a layer holds a
  // catch, the agent gets that layer, redacted, instead of the bytes that hide it.
  if (out.encoding === 'base64' && out.caught === 0 && sniffCoding(buf)) {
    const limit = buf.length + 3 * span + 4 + o.maxBytes;
    for (const layer of await hiddenLayers(buf, limit)) {
      decoded.push(`${sniffCoding(buf) ?? 'compressed'} (undeclared)`);
      const inner = shape(layer, o.truncated || layer.length >= limit);
      if (inner.caught > 0) return { body: inner.text, bodyEncoding: inner.encoding, truncated: inner.truncated, changed: true, decoded };
      buf = layer;
    }
    decoded.length = out.via ? 1 : 0;
  }
  return { body: out.text, bodyEncoding: out.encoding, truncated: out.truncated || o.truncated, changed: out.caught > 0 || out.truncated || !!out.via, decoded };
}
