/** Embedded defaults: what `npm start` runs with when there is no clawguard.json. */
import { parseConfig } from './load.js';
import type { ClawguardConfig } from './types.js';

/** The demo profile runs the bundled demo agent in a fresh isolate; it may only read the clock. */
export function embeddedDefaults(demoEntry: string): ClawguardConfig {
  return parseConfig({
    agents: {
      demo: {
        runtime: 'thread-bound',
        'auto-destroy': true,
        timeout: 30,
        'max-concurrent': 4,
        entry: demoEntry,
        tools: { allow: ['system.time'] },
      },
    },
  });
}

export const STARTER_CONFIG = `// clawguard.json — JSON5: comments and trailing commas are fine.
// Check it with: clawguard config check clawguard.json
{
  gateway: {
    host: "127.0.0.1", // loopback only; a non-loopback bind requires TLS and authentication
    port: 18780,
  },
  agents: {
    // A fresh, isolated agent instance per request, destroyed when the request ends.
    "routine-tasks": {
      runtime: "thread-bound",
      model: "local/gpt-oss-120b", // served by an OpenAI-compatible server (vLLM, llama.cpp, Ollama)
      "auto-destroy": true,
      timeout: 300,          // seconds; the run is killed after this
      "max-concurrent": 4,   // extra runs wait in a bounded queue
      isolation: "thread",   // "thread": fresh V8 isolate; "process": bubblewrap-sandboxed child process
      tools: { allow: ["system.time"] }, // default deny: only listed tools may be called
    },
  },
  models: {
    local: { type: "openai-compatible", baseUrl: "http://127.0.0.1:8000/v1" },
  },
  sandbox: {
    mode: "strict",
    fileAccess: { allowedPaths: ["~/.openclaw/workspace"], blockedPaths: ["/etc", "~/.ssh", "~/.aws", "~/.gnupg"] },
    networkAccess: { allowedDomains: [], blockedDomains: ["*"] },
  },
  audit: { retentionDays: 90 },
}
`;
