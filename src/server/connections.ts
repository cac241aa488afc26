/**
 * The HTTP server's connections: capped in number, with header, request and keep-alive timeouts
 * that fit a gateway (fastify's defaults let 20,000 idle sockets exhaust file descriptors, keep
 * a half-sent request 90 s, and a keep-alive client 72 s), and closed promptly at shutdown.
 *
 * Shutdown: begin() refuses new requests with our own 503 and closes every connection that has no
 * request in flight (idle keep-alive, nothing sent yet, headers half sent); requests in flight
 * may finish, and get `connection: close`; finish() answers those still open with 503
 * `unavailable` and closes what is left.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply } from 'fastify';

export interface ConnectionLimits {
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const SHUTTING_DOWN = { error: { code: 'unavailable', message: 'the gateway is shutting down' } } as const;

export class Connections {
  private readonly sockets = new Set<Socket>();
  private readonly raw = new Set<Socket>();
  /** Requests in flight per socket. */
  private readonly busy = new Map<Socket, number>();
  private readonly inFlight = new Set<FastifyReply>();
  private closing = false;
  private server: Server | undefined;

  get shuttingDown(): boolean {
    return this.closing;
  }

  /** Hooks on the app (call before routes are added). */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (req, reply) => {
      if (this.closing) {
        void reply.header('connection', 'close');
        return reply.code(503).send(SHUTTING_DOWN);
      }
      const s = req.raw.socket;
      this.busy.set(s, (this.busy.get(s) ?? 0) + 1);
      this.inFlight.add(reply);
    });
    app.addHook('onSend', async (_req, reply, payload) => {
      if (this.closing) void reply.header('connection', 'close');
      return payload;
    });
    const done = (reply: FastifyReply) => {
      if (!this.inFlight.delete(reply)) return;
      const s = reply.request.raw.socket;
      const n = (this.busy.get(s) ?? 1) - 1;
      if (n > 0) this.busy.set(s, n);
      else this.busy.delete(s);
    };
    app.addHook('onResponse', async (_req, reply) => done(reply));
    app.addHook('onRequestAbort', async (req) => {
      for (const r of this.inFlight) if (r.request === req) done(r);
    });
  }

  /** Limits and tracking on the server (before it listens). */
  attach(server: Server, limits: ConnectionLimits, tls = false): void {
    this.server = server;
    server.maxConnections = limits.maxConnections;
    server.headersTimeout = limits.headersTimeoutMs;
    server.requestTimeout = limits.requestTimeoutMs;
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    // Node checks the header and request timeouts only this often (default 30 s, read at listen).
    (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1000, limits.headersTimeoutMs);
    const track = (set: Set<Socket>) => (s: Socket) => {
      set.add(s);
      s.once('close', () => {
        set.delete(s);
        this.busy.delete(s);
      });
    };
    // Requests arrive on the TLS socket of a TLS server; its TCP sockets (a handshake may still be
    // under way on them) are only closed at the end.
    if (tls) {
      server.on('secureConnection', track(this.sockets));
      server.on('connection', track(this.raw));
    } else server.on('connection', track(this.sockets));
  }

  status(): Record<string, unknown> {
    return { open: this.sockets.size, busy: this.busy.size, max: this.server?.maxConnections ?? null };
  }

  begin(): void {
    this.closing = true;
    for (const s of this.sockets) if (!this.busy.has(s)) s.destroy();
  }

  finish(): void {
    for (const reply of [...this.inFlight]) {
      if (reply.sent || reply.raw.headersSent) continue;
      void reply.code(503).header('connection', 'close').send(SHUTTING_DOWN);
    }
    // Answered connections close after their answer (connection: close); the rest, and any
    // answer that cannot leave, go after a moment.
    setTimeout(() => {
      this.server?.closeAllConnections?.();
      for (const s of [...this.sockets, ...this.raw]) s.destroy();
    }, 200).unref();
  }
}
