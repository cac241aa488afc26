/**
 * The framed channel between the gateway and a process-isolated child (fd 3, a plain socket pair; never
 * Node's own IPC). A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON.
 * The decoder holds at most one frame's worth of bytes: a length over the cap is refused as soon as its
 * four bytes arrive, so garbage, a 4 GiB prefix or 640 MiB without framing cost at most `maxFrameBytes`.
 * Frames are hostile data on the gateway side: the decoder only cuts bytes; child-messages.ts validates.
 */

/** Largest frame the gateway accepts from a child (call arguments are capped at 4 MiB inside that). */
export const MAX_CHILD_FRAME_BYTES = 8 * 1024 * 1024;
/** Largest frame the gateway sends to a child (tool results can be bigger than anything a child may send). */
export const MAX_PARENT_FRAME_BYTES = 64 * 1024 * 1024;
const HEADER = 4;

export class FrameError extends Error {
  constructor(
    readonly code: 'protocol_violation',
    message: string,
  ) {
    super(message);
  }
}

/** One frame for `value`; throws FrameError when it would exceed `maxBytes`. */
export function encodeFrame(value: unknown, maxBytes: number, stringify: (v: unknown) => string = JSON.stringify): Buffer {
  const body = Buffer.from(stringify(value), 'utf8');
  if (body.length > maxBytes) throw new FrameError('protocol_violation', `frame of ${body.length} bytes exceeds the cap of ${maxBytes}`);
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, HEADER);
  return out;
}

/**
 * Cuts a byte stream into frame bodies. Chunks are kept as a list and joined once per frame, so a frame
 * dripped one byte at a time costs O(n), not O(n^2). After an error the decoder stays failed.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // body length of the frame being read; -1 while reading its header
  private failed: FrameError | undefined;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held for an incomplete frame (bounded by header + cap). */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Feed a chunk; returns the complete frame bodies it finished, or throws FrameError. */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    const out: Buffer[] = [];
    if (chunk.length === 0) return out;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < HEADER) break;
        const len = this.take(HEADER).readUInt32BE(0);
        if (len > this.maxFrameBytes) {
          this.failed = new FrameError('protocol_violation', `frame length ${len} exceeds the cap of ${this.maxFrameBytes} bytes`);
          this.chunks = [];
          this.buffered = 0;
          throw this.failed;
        }
        this.need = len;
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** True when the stream ended inside a frame. */
  get midFrame(): boolean {
    return this.need >= 0 || this.buffered > 0;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return head;
  }
}
