/**
 * The secrets module's public face: the broker (providers, rotation, grants, host binding,
 * injection, audit), the redactor, and the exec-protocol helpers the CLI resolver speaks.
 */
export { SecretsBroker, GATEWAY_PRINCIPAL, type BrokerOptions, type StartOptions } from './broker.js';
export { SecretRedactor, type ExposureListener, type BoundedText, type BoundOptions } from './redact/redactor.js';
export { formsOf, fragmentAnchorsOf, blockSize, MIN_PATTERN_LENGTH } from './redact/forms.js';
export { agentBody, readAhead, type AgentBody } from './redact/response.js';
export { Automaton } from './redact/automaton.js';
export { redactingLogger } from './logger.js';
export { redactingAuditSink } from './audit-sink.js';
export { configGrantAuthorizer } from './grants.js';
export { hostAllowed } from './hosts.js';
export { type Clock, systemClock, ManualClock } from './clock.js';
export { nextDue, isOverdue, MISSED_AFTER_MS } from './schedule.js';
export { masterKeyPaths } from './master-key.js';
export { parseRequest, formatResponse, buildRequest, valueFromResponse, EXEC_ID, EXEC_PROTOCOL_VERSION, type ExecRequest, type ExecResponse } from './exec-protocol.js';
export { parsePointer, resolvePointer } from './providers/file.js';
export type { Authorize, AuthorizeResult, FetchedValue, RotationMode, RotationResult, SecretHealth, SecretProvider, SecretStatus, SecretsStatus, ProviderSet } from './types.js';
