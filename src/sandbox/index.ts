/**
 * sandbox — the independent second-line guards behind policy, and the one bubblewrap builder.
 * Other modules import only from here.
 *
 * Path guard (fs.* tools)
 *   createPathGuard({ allowedPaths, blockedPaths, workspace?, home?, hiddenPaths?, identityTtlMs? }) → PathGuard
 *     canonical(p, 'read'|'write') → the canonical path (sync), or throws path_blocked / bad_request / not_found
 *     resolve(p, mode)            → canonical(), as a promise
 *     readFile(p, { maxBytes? = 1 MiB, exact? }) → { content, truncated, path, size }  (not_found, path_blocked …)
 *     writeFile(p, data, { maxBytes? = 10 MiB, createDirs? = false, exact? }) → { path, bytes, created }
 *     list(p, { maxEntries?, exact? }) → { path, entries: [{ name, type, size }], truncated }  (blocked/hidden children omitted)
 *     stat(p, { exact? })         → { path, type, size, mtimeMs, mode }
 *     decide(canonicalPath)       → PathVerdict (sync, no disk access)
 *   One canonicalisation (path-walk.ts) for policy, audit and guard: plain paths are never URL-decoded;
 *   `file://` URLs are decoded once; `~` expands; relative paths join the workspace; `..` collapses;
 *   symlinks are resolved component by component, looking only inside the allowed roots (no existence
 *   oracle). A blocked or hidden prefix wins over any allowed one, and blocked paths and their
 *   ancestors are also followed by identity (path-identity.ts), wherever they are moved or linked.
 *   `exact: true` opens a canonical path as it is and fails if the descriptor is not that path.
 *   protectedPaths(config, stateDir), agentReachProblems(…), assertAgentsCannotReach(…): the state dir,
 *   policy dir, config and agent modules, and the start-up refusal when an agent could reach one.
 *
 * Egress guard (http.fetch, model calls)
 *   createEgressGuard({ allowedDomains, blockedDomains, allowPrivate?, lookup?, maxRedirects? = 5,
 *                       maxResponseBytes? = 10 MiB, timeoutMs? = 30 s, onLog?, tls? }) → EgressGuard
 *     check(url)  → { url, host, port, addresses, pinned }, or throws host_blocked / bad_request / not_found
 *     fetch(url, { method?, headers?, body?, beforeHop?, maxResponseBytes?, timeoutMs?, signal? })
 *                 → { status, headers, body, truncated, finalUrl, address, redirects, decoded }
 *     close()
 *   http/https only; resolve once, every address checked, connection dialled to the pinned address;
 *   redirects followed here (each hop re-checked); on a cross-origin hop only non-credential headers
 *   survive and beforeHop re-decides injected headers. Metadata endpoints are never reachable.
 *   The guard asks for identity encoding and undoes any coding a server applies anyway (bounded;
 *   what it cannot decode is refused); maxResponseBytes caps the decoded body.
 *
 * Host patterns (secret bindings, domain lists, allowPrivate; one module, host-pattern.ts)
 *   parseHostPattern(entry, { defaults: 'origin' | 'any', star?, cidr? }) → { ok, pattern } | { ok: false, error }
 *   hostPatternMatches(pattern, targetOf(url, address?)) → boolean
 *
 * Process isolation
 *   detectBubblewrap() → { available, path?, version?, reason?, features? }   (cached; CLAWGUARD_BWRAP)
 *   sandboxStatus(mode?) → { mode, available, reason?, bubblewrap, prlimit, processLimit }
 *   buildBwrapArgs(spec) → string[]   the ONE builder of bwrap command lines
 *   runSandboxed({ argv, workspace, timeoutMs, maxOutputBytes, cwd?, env?, envAllow?, stdin?, roBinds?,
 *                  hiddenPaths?, limits?, mode?, signal? }) → { exitCode, signal, stdout, stderr,
 *                  truncated, timedOut, durationMs, sandboxed }
 *   spawnSandboxedNode({ script, args?, scriptDirs?, roBinds?, workspace?, cwd?, env?, envAllow?,
 *                        hiddenPaths?, limits?, nodeArgs?, memoryMb?, mode? }) → SandboxedChild
 *     fd 3 (child.stdio[3]) is a plain socket pair for the caller's own framing; never Node's IPC
 *     (no NODE_CHANNEL_FD, no process.send inside). memoryMb: a memory cgroup of memoryMb + Node's
 *     slack (memory-limit.ts), or sandbox_unavailable; child.memoryCgroup.oomKilled after exit.
 *   memoryLimitStatus() → { kind: 'cgroup-v1' | 'cgroup-v2' | 'none', reason? }
 *   Both throw sandbox_unavailable when bubblewrap, prlimit or a seccomp filter for this architecture is
 *   missing, unless mode is "off". Every sandbox runs under the seccomp filter (seccomp.ts: no setuid/setgid
 *   bits, no file capabilities), its masks cannot be moved (bwrap-masks.ts), and bwrap reads its options
 *   from a descriptor, so /proc/1/cmdline inside names no masked path.
 *   exec.run: resolveCommand(argv0, cwd) on the fixed SANDBOX_PATH; commandForms(entry) for `commands`
 *   rules; checkAgentEnv(env, allow) for the names agents may set (sandbox.exec.agentEnv).
 *   Limits: prlimit inside the sandbox (CPU, address space, processes, file size); a memory cgroup for
 *   process isolation (fail closed without one); a pids cgroup when the gateway is root (RLIMIT_NPROC does not bind root); tmpfs /tmp with a size cap. Descriptors the
 *   gateway inherited without close-on-exec are covered with /dev/null in every child. The output cap
 *   counts stdout + stderr together and kills the command when exceeded.
 */
export { createPathGuard, procFdAvailable } from './path-guard.js';
export type { PathGuard, PathGuardOptions, AccessMode, EntryType } from './path-guard.js';
export type { PathVerdict } from './path-policy.js';
export { lexicalCanonical, expandTilde } from './path-canonical.js';
export { protectedPaths, agentReachProblems, assertAgentsCannotReach, type ProtectedPath } from './path-protected.js';

export { createEgressGuard } from './egress-guard.js';
export type { EgressGuard, EgressGuardOptions, EgressFetchOptions, EgressResponse, EgressLogEntry, CheckedUrl, HopInfo, Resolver, ResolvedAddress } from './egress-guard.js';
export { classifyAddress, METADATA_ADDRESSES } from './host-classify.js';
export type { AddressClass } from './host-classify.js';
export { DomainRules } from './domain-rules.js';
export { parseHostPattern, parseHostPatterns, hostPatternMatches, hostPatternProblems, policyHostOf, targetOf, canonicalHost } from './host-pattern.js';
export type { HostPattern, HostPatternOptions, Target, Scheme } from './host-pattern.js';
export { codingsOf, readDecoded, sniffCoding, hiddenLayers, DECODABLE, type Coding } from './content-decoding.js';

export { buildBwrapArgs, detectBubblewrap, resetBubblewrapDetection, systemLayout } from './bwrap.js';
export type { BwrapSpec, BwrapInfo, Bind } from './bwrap.js';
export { rlimitPrefix, findPrlimit, processLimitStatus, DEFAULT_LIMITS } from './limits.js';
export type { SandboxLimits, ProcessLimitKind } from './limits.js';
export { runSandboxed } from './exec.js';
export type { RunSandboxedOptions, SandboxResult } from './exec.js';
export { spawnSandboxedNode } from './node-spawn.js';
export type { SpawnSandboxedNodeOptions, SandboxedChild } from './node-spawn.js';
export { memoryLimitStatus, resetMemoryCgroupDetection, NODE_SLACK_MB, type MemoryCgroup } from './memory-limit.js';
export { sandboxStatus, DEFAULT_ENV_ALLOW, SANDBOX_PATH } from './launch.js';
export { resolveCommand, lookupCommand, commandForms, commandMatches, decidedCommand, SANDBOX_PATH_DIRS } from './exec-command.js';
export { checkAgentEnv, neverAgentSettable, DEFAULT_AGENT_ENV } from './exec-env.js';
export { seccompProgram, seccompStatus, buildSeccompProgram } from './seccomp.js';
export type { SandboxMode } from './launch.js';
