/**
 * The witness server (`clawguard audit witness serve --dir D --port N`): holds, for each log by
 * name, the pinned key history and the latest signed tree head, in D/<name>/ (witness-file.ts).
 *
 *   GET  /v1/logs/<name>              → 200 {"state": {keys, latest, segments}}
 *   POST /v1/logs/<name>/keys         {"keys": [key statements]}            → 200 {"latest"} | 4xx {"error"}
 *   POST /v1/logs/<name>/checkpoints  {"checkpoint", "consistency": {from, path}} → 200 {"latest"} | 4xx {"error", "latest"}
 *   GET  /healthz
 *
 * A head is stored only if it is signed by the pinned key and extends the head held (RFC 6962
 * consistency proof); a refusal is 409 with the code (inconsistent, unknown_key, bad_signature,
 * stale) and the head the witness holds, so a client that is merely behind can retry.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { WitnessFile } from './witness-file.js';
import { acceptCheckpoint, acceptKeys, emptyWitnessState, type Verdict } from './witness-state.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_BODY = 1024 * 1024;

export interface WitnessServerOptions {
  dir: string;
  host?: string;
  port?: number;
  log?: (line: string) => void;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const fail = (res: ServerResponse, status: number, code: string, message: string, extra: Record<string, unknown> = {}) => send(res, status, { error: { code, message }, ...extra });

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error(`the body is larger than ${MAX_BODY} bytes`), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(Object.assign(new Error('the body is not JSON'), { status: 400 }));
      }
    });
    req.once('error', reject);
  });
}

export class WitnessServer {
  private server: Server | undefined;
  private readonly files = new Map<string, WitnessFile>();

  constructor(private readonly opts: WitnessServerOptions) {}

  private file(name: string): WitnessFile {
    let f = this.files.get(name);
    if (!f) this.files.set(name, (f = new WitnessFile(join(this.opts.dir, name))));
    return f;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/healthz') return send(res, 200, { ok: true });
    const m = /^\/v1\/logs\/([^/]+)(\/keys|\/checkpoints)?$/.exec(path);
    if (!m) return fail(res, 404, 'not_found', `no route ${req.method} ${path}`);
    const name = decodeURIComponent(m[1]!);
    if (!NAME.test(name)) return fail(res, 400, 'bad_request', 'a log name is 1-100 letters, digits, dots, dashes or underscores');
    const file = this.file(name);
    if (!m[2]) {
      if (req.method !== 'GET') return fail(res, 405, 'method_not_allowed', 'GET only');
      const state = await file.read().catch((e: NodeJS.ErrnoException) => {
        if (/does not exist/.test(e.message)) return emptyWitnessState();
        throw e;
      });
      return send(res, 200, { state });
    }
    if (req.method !== 'POST') return fail(res, 405, 'method_not_allowed', 'POST only');
    const body = await readBody(req);
    await mkdir(join(this.opts.dir, name), { recursive: true });
    let held: unknown = null;
    const v: Verdict = await file.update((s) => {
      held = s.latest;
      return m[2] === '/keys' ? acceptKeys(s, body) : acceptCheckpoint(s, body);
    });
    if (v.ok) {
      if (v.changed) this.opts.log?.(`${name}: ${m[2] === '/keys' ? `key history of ${v.state.keys.length}` : `head of ${v.state.latest!.treeSize} events`} accepted`);
      return send(res, 200, { latest: v.state.latest, keys: v.state.keys.length });
    }
    this.opts.log?.(`${name}: REFUSED (${v.code}): ${v.message}`);
    return fail(res, v.code === 'bad_request' ? 400 : 409, v.code, v.message, { latest: held });
  }

  async listen(): Promise<{ url: string; port: number }> {
    await mkdir(this.opts.dir, { recursive: true });
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: Error & { status?: number }) => {
        if (!res.headersSent) fail(res, e.status ?? 500, e.status ? 'bad_request' : 'internal', e.message);
      });
    });
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    this.server = server;
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : (this.opts.port ?? 0);
    return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port };
  }

  close(): Promise<void> {
    const s = this.server;
    if (!s) return Promise.resolve();
    s.closeAllConnections();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}
