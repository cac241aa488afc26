/** Shared set-up for the secrets tests: a real SQLite store in a temp state dir, a recording audit sink, a broker. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { parseConfig } from '../../src/config/index.js';
import type { AuditEventInput, AuditSink, Principal } from '../../src/pipeline/index.js';
import { type Authorize, configGrantAuthorizer, ManualClock, type ProviderSet, SecretsBroker } from '../../src/secrets/index.js';
import { openStore, type Store } from '../../src/store/index.js';

/** A fresh temporary directory (these unit tests do not load the gateway). */
export function tempDir(prefix = 'cg-secrets-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export class MemoryAudit implements AuditSink {
  events: AuditEventInput[] = [];
  failing = false;
  async record(e: AuditEventInput): Promise<void> {
    if (this.failing) throw new Error('audit disk full');
    this.events.push(JSON.parse(JSON.stringify(e)) as AuditEventInput);
  }
  ofType(t: string): AuditEventInput[] {
    return this.events.filter((e) => e.type === t);
  }
}

export interface Rig {
  dir: string;
  store: Store;
  audit: MemoryAudit;
  broker: SecretsBroker;
  clock: ManualClock;
  registry: client.Registry;
  env: NodeJS.ProcessEnv;
  close(): void;
}

export function rig(secrets: Record<string, unknown>, o: { env?: NodeJS.ProcessEnv; authorize?: Authorize; providers?: ProviderSet; clock?: ManualClock; dir?: string } = {}): Rig {
  const dir = o.dir ?? tempDir('cg-secrets-');
  const config = parseConfig({ secrets }, join(dir, 'clawguard.json'));
  const store = openStore(dir);
  const audit = new MemoryAudit();
  const clock = o.clock ?? new ManualClock(Date.now());
  const registry = new client.Registry();
  const env = o.env ?? {};
  const broker = new SecretsBroker({
    secrets: config.secrets,
    db: store.db,
    stateDir: dir,
    audit,
    authorize: o.authorize ?? configGrantAuthorizer(config.secrets),
    clock,
    env,
    registry,
    ...(o.providers ? { providers: o.providers } : {}),
  });
  return {
    dir,
    store,
    audit,
    broker,
    clock,
    registry,
    env,
    close() {
      broker.stop();
      store.close();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function agent(profile: string, runId = 'r-1'): Principal {
  return { kind: 'run', agentId: `run:${runId}`, runId, profile, trustLevel: 'limited', capabilities: [], door: 'run' };
}

/** Every audit event, serialized: the tests assert that no value ever appears in it. */
export function auditText(a: MemoryAudit): string {
  return JSON.stringify(a.events);
}
