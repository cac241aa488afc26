/** The `clawguard` command. */
import { Command, CommanderError } from 'commander';
import { ClawguardError } from '../errors/index.js';
import { VERSION } from '../config/index.js';
import { registerAgentCommands } from './commands/agents.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerConfigCommands, registerInitCommand } from './commands/config.js';
import { registerIdentityCommands } from './commands/identity.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerRunCommands, registerStatusCommand } from './commands/runs.js';
import { registerSecurityScanCommand } from './commands/security-scan.js';
import { registerSecretsCommands } from './commands/secrets.js';
import { registerStartCommand } from './commands/start.js';

/** Exit codes: 0 success, 1 findings/denied/failed check, 2 usage or config error. */
const USAGE_CODES = new Set(['bad_request', 'config_invalid']);

export function buildProgram(): Command {
  const program = new Command('clawguard')
    .description('zero-trust runtime and gateway for AI agents')
    .version(VERSION)
    .option('--config <file>', 'config file (default: CLAWGUARD_CONFIG, else ./clawguard.json, else ~/.clawguard/clawguard.json)')
    .option('--state-dir <dir>', 'state directory (default: CLAWGUARD_STATE_DIR, else ~/.clawguard)')
    .option('--url <url>', 'the gateway to talk to (default: CLAWGUARD_URL, else the one the state dir records)')
    .showHelpAfterError()
    .exitOverride();
  registerInitCommand(program);
  registerConfigCommands(program);
  registerStartCommand(program);
  registerRunCommands(program);
  registerStatusCommand(program);
  registerSecurityScanCommand(program);
  registerPolicyCommands(program);
  registerAuditCommands(program);
  registerAgentCommands(program);
  registerIdentityCommands(program);
  registerSecretsCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; everything else commander rejects is a usage error.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof ClawguardError) {
      process.stderr.write(`clawguard: ${e.message}\n`);
      process.exitCode = USAGE_CODES.has(e.code) ? 2 : 1;
      return;
    }
    process.stderr.write(`clawguard: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
