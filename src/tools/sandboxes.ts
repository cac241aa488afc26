/**
 * The sandbox each principal works in: its profile's `sandbox` block (or the global one), turned
 * into a path guard and an egress guard once and cached. The state dir, the policy dir, the config
 * file and the agent modules are always hidden (and the gateway refuses to start with one in reach).
 */
import type { ClawguardConfig, SandboxConfig } from '../config/index.js';
import type { Principal } from '../pipeline/index.js';
import { createEgressGuard, createPathGuard, protectedPaths, type EgressGuard, type EgressLogEntry, type PathGuard } from '../sandbox/index.js';

export interface PrincipalSandbox {
  key: string;
  config: SandboxConfig;
  workspace: string | undefined;
  paths: PathGuard;
  egress: EgressGuard;
  /** Never visible to agents: the protected paths plus the blocked paths. */
  hiddenPaths: string[];
}

export class SandboxDirectory {
  private readonly cache = new Map<string, PrincipalSandbox>();

  constructor(
    private readonly config: ClawguardConfig,
    private readonly stateDir: string,
    private readonly onEgress: (e: EgressLogEntry) => void = () => undefined,
  ) {}

  for(principal: Principal): PrincipalSandbox {
    const profile = principal.profile ? this.config.agents[principal.profile] : undefined;
    const key = profile ? `profile:${profile.name}` : 'global';
    let sb = this.cache.get(key);
    if (!sb) {
      const config = profile?.sandbox ?? this.config.sandbox;
      const workspace = profile?.workspace ?? config.allowedPaths[0];
      const hidden = protectedPaths(this.config, this.stateDir).map((p) => p.path);
      sb = {
        key,
        config,
        workspace,
        paths: createPathGuard({ allowedPaths: config.allowedPaths, blockedPaths: config.blockedPaths, ...(workspace ? { workspace } : {}), hiddenPaths: hidden }),
        egress: createEgressGuard({ allowedDomains: config.allowedDomains, blockedDomains: config.blockedDomains, allowPrivate: config.allowPrivate, onLog: this.onEgress }),
        hiddenPaths: [...hidden, ...config.blockedPaths],
      };
      this.cache.set(key, sb);
    }
    return sb;
  }

  close(): void {
    for (const sb of this.cache.values()) sb.egress.close();
    this.cache.clear();
  }
}
