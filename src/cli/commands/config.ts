import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfigFile, secretAgentProblems, STARTER_CONFIG } from '../../config/index.js';
import { registeredAgentIds } from '../../identity/index.js';
import { agentReachProblems } from '../../sandbox/index.js';
import { defaultDbFile, ensureStateDir, newToken, openSqlite, operatorTokenPath, readOrCreateSecretFile } from '../../store/index.js';
import { type GlobalOpts, stateDirOf } from '../context.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check and explain configuration');
  config
    .command('check')
    .argument('<file>', 'clawguard.json (JSON or JSON5; "openclaw" wrapper accepted)')
    .option('--json', 'machine-readable output')
    .description('validate a config file: exit 0 when valid, 2 with one line per problem (secret grants are checked against the state dir\'s agent registry when it is readable)')
    .action((file: string, o: { json?: boolean }, cmd: Command) => {
      try {
        const c = loadConfigFile(file);
        const stateDir = stateDirOf(cmd.optsWithGlobals<GlobalOpts>());
        // The gateway refuses to start with its state dir, policy dir, config or an agent module in an agent's reach.
        const reach = agentReachProblems(c, stateDir);
        if (reach.length) throw new ConfigError(reach.map((message) => ({ path: 'sandbox', message })), resolve(file));
        const refs = secretAgentProblems(c, readRegistry(stateDir));
        if (refs.errors.length) throw new ConfigError(refs.errors, file);
        for (const w of refs.warnings) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
        const summary = {
          valid: true,
          file: resolve(file),
          openclawWrapped: c.openclawWrapped,
          agents: Object.values(c.agents).map((p) => ({ name: p.name, runtime: p.runtime, isolation: p.isolation, model: p.model ?? null, timeoutSeconds: p.timeoutSeconds, maxConcurrent: p.maxConcurrent, autoDestroy: p.autoDestroy, deterministic: p.deterministic })),
          secrets: Object.values(c.secrets).map((s) => ({ name: s.name, source: s.source, rotation: s.rotation?.label ?? null })),
          warnings: refs.warnings,
        };
        if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else process.stdout.write(`${file}: valid (${summary.agents.length} profile(s), ${summary.secrets.length} secret(s))\n`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        if (o.json) process.stdout.write(`${JSON.stringify({ valid: false, file: resolve(file), problems: e.problems }, null, 2)}\n`);
        else for (const p of e.problems) process.stderr.write(`${p.path}: ${p.message}\n`);
        process.exitCode = 2;
      }
    });
}

/** The agent ids of the state dir's registry, or undefined when there is none to read (read-only: creates nothing). */
function readRegistry(stateDir: string): Set<string> | undefined {
  const file = defaultDbFile(stateDir);
  if (!existsSync(file)) return undefined;
  let db;
  try {
    db = openSqlite({ file, readonly: true });
    return registeredAgentIds(db);
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('write a commented starter ./clawguard.json (or --config) and create the state dir (0700; default ~/.clawguard, or --state-dir / CLAWGUARD_STATE_DIR)')
    .option('--force', 'overwrite an existing clawguard.json')
    .action((o: { force?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const file = resolve(g.config ?? 'clawguard.json');
      if (existsSync(file) && !o.force) {
        process.stderr.write(`${file} already exists (use --force to overwrite)\n`);
        process.exitCode = 2;
        return;
      }
      writeFileSync(file, STARTER_CONFIG, { mode: 0o600 });
      const dir = ensureStateDir(stateDirOf(g));
      mkdirSync(resolve(dir, 'policies'), { recursive: true, mode: 0o700 });
      readOrCreateSecretFile(operatorTokenPath(dir), () => newToken());
      process.stdout.write(`wrote ${file}\nstate dir ${dir} (mode 0700); operator token in ${operatorTokenPath(dir)} (mode 0600)\n`);
    });
}
