/**
 * monitoring.telemetry (exportFormat JSON-Lines): every committed audit event, one JSON object per
 * line, to a file (appended, 0600) or "-" for stdout. Payloads are included when captureAllRequests
 * is set. A telemetry failure never blocks the audit log; it shows in status.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AuditEvent } from './types.js';

export interface TelemetryOptions {
  /** File path, or "-" for stdout. */
  output: string;
  includePayload: boolean;
}

export class TelemetryStream {
  private readonly stream: WriteStream | NodeJS.WriteStream;
  private error: string | undefined;
  lines = 0;

  constructor(readonly opts: TelemetryOptions) {
    if (opts.output === '-') this.stream = process.stdout;
    else {
      const s = createWriteStream(opts.output, { flags: 'a', mode: 0o600 });
      s.on('error', (e) => {
        this.error = e.message;
      });
      this.stream = s;
    }
  }

  write(events: AuditEvent[]): void {
    if (this.error || events.length === 0) return;
    let chunk = '';
    for (const e of events) {
      const { payload, ...rest } = e;
      chunk += `${JSON.stringify(this.opts.includePayload ? { ...rest, payload } : rest)}\n`;
    }
    this.lines += events.length;
    this.stream.write(chunk);
  }

  status(): Record<string, unknown> {
    return { output: this.opts.output, format: 'JSON-Lines', lines: this.lines, ...(this.error ? { ok: false, error: this.error } : { ok: true }) };
  }

  close(): Promise<void> {
    if (this.stream === process.stdout) return Promise.resolve();
    return new Promise((resolve) => (this.stream as WriteStream).end(() => resolve()));
  }
}

/** monitoring.telemetry → where committed events stream (relative paths against the config's directory). */
export function telemetryFromConfig(t: { captureAllRequests: boolean; output?: string } | undefined, stateDir: string, baseDir: string): TelemetryOptions | undefined {
  if (!t) return undefined;
  const out = t.output;
  return { output: out === '-' ? '-' : out ? resolve(baseDir, out) : join(stateDir, 'telemetry.jsonl'), includePayload: t.captureAllRequests };
}
