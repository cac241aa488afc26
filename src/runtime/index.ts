export { RunManager, type RunManagerDeps, type SubmitRequest } from './run-manager.js';
export { IsolateFactory } from './isolate-instance.js';
export { ProcessFactory, PROCESS_CHILD_SCRIPT, type SandboxedNodeSpawner } from './process-instance.js';
export type { AgentInstance, InstanceFactory, HostBridge, InstanceJob } from './instance.js';
export type { ReplayReport } from './recorder.js';
export { Slots } from './scheduler.js';
export { installProcessGuard, type ProcessGuardSink } from './process-guard.js';
export { CROSSING_LIMITS } from './crossing.js';
