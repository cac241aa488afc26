export type * from './types.js';
export type { AuditConfig, WitnessConfig } from './audit-schema.js';
export { ConfigError, parseConfig, parseConfigText, loadConfigFile, findConfigFile } from './load.js';
export type { ConfigProblem } from './problems.js';
export { didYouMean } from './problems.js';
export { embeddedDefaults, STARTER_CONFIG } from './defaults.js';
export { parseDurationSeconds, parseRotation, rotationMaxIntervalSeconds, type RotationSchedule } from './durations.js';
export { DEFAULT_HOST, DEFAULT_PORT } from './normalize.js';
export { VERSION } from './version.js';
