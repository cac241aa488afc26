/** Checks the gateway makes once, while it is being put together. */
import type { Logger } from 'pino';
import { type ClawguardConfig, secretAgentProblems, TOOL_CATALOG } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import { registeredAgentIds } from '../identity/index.js';
import type { SqliteDb } from '../store/index.js';

/** The built-in tools are exactly the catalogue the config was checked against: one list for both. */
export function assertToolCatalog(registered: string[]): void {
  const off = [...registered.filter((n) => !TOOL_CATALOG.includes(n)), ...TOOL_CATALOG.filter((n) => !registered.includes(n))];
  if (off.length) throw new ClawguardError('internal', `the built-in tools and TOOL_CATALOG (src/config/tools.ts) differ: ${off.join(', ')}`);
}

/**
 * A secret granted to a name that is neither a profile nor a registered agent grants nothing: a
 * warning here (agents are registered through the running gateway), an error in `config check`.
 */
export function warnUnknownSecretAgents(config: ClawguardConfig, db: SqliteDb, log: Pick<Logger, 'warn'>): void {
  let registered: Set<string>;
  try {
    registered = registeredAgentIds(db);
  } catch {
    return;
  }
  for (const p of secretAgentProblems(config, registered).errors) log.warn({ path: p.path }, `${p.path}: ${p.message}; register the agent, or fix the name (clawguard config check)`);
}
