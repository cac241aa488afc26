import type { Command } from 'commander';
import { ConfigError } from '../../config/index.js';
import { ClawguardError } from '../../errors/index.js';
import { operatorTokenPath } from '../../store/index.js';
import { type GlobalOpts, loadConfig, stateDirOf } from '../context.js';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start the gateway (default 127.0.0.1:18780; 18789 is OpenClaw\'s own gateway port)')
    .option('--port <n>', 'port to listen on', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ClawguardError('bad_request', `--port: expected 0-65535, got ${v}`);
      return n;
    })
    .option('--host <h>', 'address to bind')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--audit-new-segment', 'if the audit log fails its start check (broken, truncated, re-keyed), continue on a new, witnessed segment that records the break')
    .action(async (o: { port?: number; host?: string; tlsCert?: string; tlsKey?: string; auditNewSegment?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      let config;
      try {
        config = loadConfig(g);
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`${e.message}\nnothing started.\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
      const stateDir = stateDirOf(g);
      if (!process.execArgv.includes('--no-node-snapshot') && !(process.env.NODE_OPTIONS ?? '').includes('--no-node-snapshot')) {
        process.stderr.write('warning: node was started without --no-node-snapshot, which the isolate engine needs (use the clawguard bin or npm start)\n');
      }
      // Loaded only here: the gateway pulls in fastify, the isolate engine and the store.
      const { Gateway } = await import('../../server/index.js');
      const gw = new Gateway({ config, stateDir, ...(o.port !== undefined ? { port: o.port } : {}), ...(o.host ? { host: o.host } : {}), ...(process.env.CLAWGUARD_TOKEN ? { token: process.env.CLAWGUARD_TOKEN } : {}), ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}), ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}), ...(o.auditNewSegment ? { auditNewSegment: true } : {}) });
      let info;
      try {
        info = await gw.start();
      } catch (e) {
        await gw.stop(0).catch(() => undefined);
        if (e instanceof ClawguardError && e.code === 'config_invalid') {
          process.stderr.write(`${e.message}\nnothing started.\n`);
          process.exitCode = 2;
          return;
        }
        if (e instanceof ClawguardError && e.code === 'audit_broken') {
          process.stderr.write(`clawguard: ${e.message}\nnothing started.\n`);
          process.exitCode = 1;
          return;
        }
        throw e;
      }
      process.stderr.write(
        `clawguard gateway listening on ${info.url}\n` +
          `  config:         ${config.source ?? '(embedded defaults with the demo profile)'}\n` +
          `  state dir:      ${stateDir}\n` +
          `  operator token: ${process.env.CLAWGUARD_TOKEN ? '(from CLAWGUARD_TOKEN)' : operatorTokenPath(stateDir)}\n` +
          `  profiles:       ${Object.keys(config.agents).join(', ') || '(none)'}\n`,
      );
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals > 1) process.exit(130);
        gw.log.info({ signal: sig }, 'shutdown requested');
        gw.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
}
