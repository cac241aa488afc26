export type * from './types.js';
export { Pipeline, type PipelineDeps } from './pipeline.js';
export { AllowListDecisionPoint } from './allow-list-pdp.js';
export { BasicContextProvider, LogAuditSink, IdentityOutputFilter } from './defaults.js';
export { DOORS } from './types.js';
