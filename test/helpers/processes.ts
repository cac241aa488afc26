import { readdirSync, readFileSync } from 'node:fs';

/** Processes whose command line mentions the runtime's child script: sandboxed agent instances. */
export function sandboxedChildren(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('process-child.js') && !cmd.includes('--test')) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}
