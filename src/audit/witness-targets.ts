/**
 * The places a log's key history and signed tree heads are published to (`audit.witness`):
 * - dir: a directory on another path or mount, kept by the rules of witness-state.ts;
 * - url: a witness server (`clawguard audit witness serve`) at the log's URL,
 *   `GET URL` (what it holds), `POST URL/keys`, `POST URL/checkpoints` (see witness-server.ts);
 * - syslog: RFC 5424 messages, over UDP or to a Unix socket through util-linux `logger`. A syslog
 *   witness only receives: it cannot say what it holds, so it cannot detect truncation.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { hostname } from 'node:os';
import { request } from 'undici';
import { type Checkpoint, parseCheckpoint } from './checkpoint.js';
import type { KeyStatement } from './key-history.js';
import { WitnessFile } from './witness-file.js';
import { acceptCheckpoint, acceptKeys, parseWitnessState, type RefusalCode, type Submission, type Verdict, type WitnessState } from './witness-state.js';

export type WitnessSpec =
  | { kind: 'dir'; dir: string }
  | { kind: 'url'; url: string }
  | { kind: 'syslog'; socket?: string; udp?: { host: string; port: number }; tag?: string };

export type Outcome = { ok: true; latest: Checkpoint | null } | { ok: false; code: RefusalCode; message: string };

export interface WitnessTarget {
  readonly spec: WitnessSpec;
  /** How reports name it: "dir /mnt/w", "url http://…", "syslog udp 127.0.0.1:514". */
  readonly name: string;
  /** Whether it can say what it holds (and so detect truncation). */
  readonly readable: boolean;
  fetch(): Promise<WitnessState>;
  publishKeys(keys: KeyStatement[]): Promise<Outcome>;
  publish(s: Submission): Promise<Outcome>;
  close(): Promise<void>;
}

const outcome = (v: Verdict): Outcome => (v.ok ? { ok: true, latest: v.state.latest } : { ok: false, code: v.code, message: v.message });

class DirWitness implements WitnessTarget {
  readonly readable = true;
  readonly name: string;
  private readonly file: WitnessFile;
  constructor(readonly spec: { kind: 'dir'; dir: string }) {
    this.name = `dir ${spec.dir}`;
    this.file = new WitnessFile(spec.dir);
  }
  fetch(): Promise<WitnessState> {
    return this.file.read();
  }
  async publishKeys(keys: KeyStatement[]): Promise<Outcome> {
    return outcome(await this.file.update((s) => acceptKeys(s, { keys })));
  }
  async publish(sub: Submission): Promise<Outcome> {
    return outcome(await this.file.update((s) => acceptCheckpoint(s, sub)));
  }
  async close(): Promise<void> {}
}

const REFUSALS = new Set<RefusalCode>(['inconsistent', 'unknown_key', 'bad_signature', 'stale', 'bad_request']);

class UrlWitness implements WitnessTarget {
  readonly readable = true;
  readonly name: string;
  private readonly base: string;
  constructor(readonly spec: { kind: 'url'; url: string }) {
    this.name = `url ${spec.url}`;
    this.base = spec.url.replace(/\/+$/, '');
  }
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await request(this.base + path, {
      method,
      headersTimeout: 5000,
      bodyTimeout: 5000,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`the witness answered ${res.statusCode} with something that is not JSON`);
    }
    return { status: res.statusCode, json };
  }
  private answer(r: { status: number; json: Record<string, unknown> }): Outcome {
    if (r.status === 200) {
      const latest = r.json.latest === null ? null : parseCheckpoint(r.json.latest);
      if (latest === undefined) throw new Error('the witness answered without a readable head');
      return { ok: true, latest };
    }
    const e = r.json.error as { code?: unknown; message?: unknown } | undefined;
    if ((r.status === 409 || r.status === 400) && typeof e?.code === 'string' && REFUSALS.has(e.code as RefusalCode)) return { ok: false, code: e.code as RefusalCode, message: String(e.message ?? e.code) };
    throw new Error(`the witness answered ${r.status}${typeof e?.message === 'string' ? `: ${e.message}` : ''}`);
  }
  async fetch(): Promise<WitnessState> {
    const r = await this.call('GET', '');
    if (r.status !== 200) throw new Error(`the witness answered ${r.status}`);
    const st = parseWitnessState(r.json.state);
    if (!st) throw new Error('the witness answered with a state whose keys or heads do not verify');
    return st;
  }
  async publishKeys(keys: KeyStatement[]): Promise<Outcome> {
    return this.answer(await this.call('POST', '/keys', { keys }));
  }
  async publish(sub: Submission): Promise<Outcome> {
    return this.answer(await this.call('POST', '/checkpoints', sub));
  }
  async close(): Promise<void> {}
}

class SyslogWitness implements WitnessTarget {
  readonly readable = false;
  readonly name: string;
  private socket: Socket | undefined;
  constructor(readonly spec: { kind: 'syslog'; socket?: string; udp?: { host: string; port: number }; tag?: string }) {
    this.name = spec.udp ? `syslog udp ${spec.udp.host}:${spec.udp.port}` : `syslog ${spec.socket ?? '/dev/log'}`;
  }
  fetch(): Promise<WitnessState> {
    return Promise.reject(new Error('a syslog witness only receives'));
  }
  private send(kind: 'key' | 'checkpoint', value: unknown): Promise<Outcome> {
    const tag = this.spec.tag ?? 'clawguard-audit';
    const msg = `${kind} ${JSON.stringify(value)}`;
    if (this.spec.udp) {
      const { host, port } = this.spec.udp;
      // RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG; auth.notice = 4*8+5
      const line = `<37>1 ${new Date().toISOString()} ${hostname() || '-'} ${tag} ${process.pid} ${kind} - ${msg}`;
      this.socket ??= createSocket(host.includes(':') ? 'udp6' : 'udp4');
      this.socket.unref();
      return new Promise((resolve, reject) => this.socket!.send(line, port, host, (e) => (e ? reject(e) : resolve({ ok: true, latest: null }))));
    }
    return new Promise((resolve, reject) => {
      const child = spawn('logger', ['--socket-errors=on', '-u', this.spec.socket ?? '/dev/log', '-t', tag, '-p', 'auth.notice', '-S', '8192', '--', msg], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve({ ok: true, latest: null }) : reject(new Error(`logger exited with ${code}: ${err.trim()}`))));
    });
  }
  publishKeys(keys: KeyStatement[]): Promise<Outcome> {
    return this.send('key', keys.at(-1));
  }
  publish(sub: Submission): Promise<Outcome> {
    return this.send('checkpoint', sub.checkpoint);
  }
  async close(): Promise<void> {
    this.socket?.close();
    this.socket = undefined;
  }
}

export function witnessTarget(spec: WitnessSpec): WitnessTarget {
  if (spec.kind === 'dir') return new DirWitness(spec);
  if (spec.kind === 'url') return new UrlWitness(spec);
  return new SyslogWitness(spec);
}
