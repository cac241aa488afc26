/**
 * The tamper-evident audit log: append-only, hash-chained (RFC 8785 canonical events), RFC 6962
 * Merkle tree with Ed25519-signed checkpoints, durable group commit, retention by pruning to a
 * checkpoint, payloads beside the chain (erasable), JSON-Lines telemetry, verification and proofs.
 * The key history and signed heads are published to witnesses (a directory, a witness server,
 * syslog), which pin the key and accept only consistent heads; start and verify check against them.
 */
export { AuditLog, type AuditLogOptions, type AuditLogger } from './log.js';
export { MAX_PAYLOAD_BYTES } from './encode.js';
export type { AuditEvent, AuditReceipt } from './types.js';
export { telemetryFromConfig, type TelemetryOptions } from './telemetry.js';
export { canonicalCore, canonicalJson, type EventCore } from './canonical.js';
export { type Checkpoint, checkpointBody, parseCheckpoint } from './checkpoint.js';
export { consistencyPath, verifyConsistency } from './consistency.js';
export { consistencyFromDb } from './consistency-db.js';
export { type KeyStatement, parseKeyStatement, keyForSize } from './key-history.js';
export { type WitnessSpec, type WitnessTarget, witnessTarget } from './witness-targets.js';
export { type WitnessState, acceptCheckpoint, acceptKeys, emptyWitnessState } from './witness-state.js';
export { WitnessServer } from './witness-server.js';
export { pinnedKeyFor, verifyWithWitnesses, type WitnessedVerifyResult } from './witness-verify.js';
export { readWitnesses } from './start-check.js';
export { CompactRange, eventHash, GENESIS, leafHash, leafOf, nodeHash, sha256Hex, subtreeHash, inclusionPath, verifyInclusion, EMPTY_ROOT } from './hash.js';
export { keyPaths, loadSigningKey, loadPublicKey, keyIdOf, stateDirPublicKey } from './keys.js';
export { openAuditDb, readEvents, iterateEvents, lastSeqOf, type EventQuery } from './reader.js';
export { verifyAuditLog, verifyAuditLogParallel, type VerifyResult, type VerifyOptions, type WitnessedHead } from './verify.js';
export { buildInclusionProof, verifyInclusionProof, type InclusionProof, type ProofCheck } from './proof.js';
export { RejectionAuditor, markAudited, markAuthenticated, isAuthenticated, type RejectedRequest, type RejectionFloodGuard } from './request-scope.js';
