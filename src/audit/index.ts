/**
 * The tamper-evident audit log: append-only, hash-chained (RFC 8785 canonical events), RFC 6962
 * Merkle tree with Ed25519-signed checkpoints, durable group commit, retention by pruning to a
 * checkpoint, payloads beside the chain (erasable), JSON-Lines telemetry, verification and proofs.
 */
export { AuditLog, type AuditLogOptions, type AuditLogger } from './log.js';
export type { AuditEvent, AuditReceipt } from './types.js';
export { telemetryFromConfig, type TelemetryOptions } from './telemetry.js';
export { canonicalCore, canonicalJson, type EventCore } from './canonical.js';
export { type Checkpoint, checkpointBody } from './checkpoint.js';
export { CompactRange, eventHash, GENESIS, leafHash, leafOf, nodeHash, sha256Hex, subtreeHash, inclusionPath, verifyInclusion, EMPTY_ROOT } from './hash.js';
export { keyPaths, loadOrCreateSigningKey, loadPublicKey, keyIdOf } from './keys.js';
export { openAuditDb, readEvents, iterateEvents, lastSeqOf, type EventQuery } from './reader.js';
export { verifyAuditLog, verifyAuditLogParallel, type VerifyResult, type VerifyOptions } from './verify.js';
export { buildInclusionProof, verifyInclusionProof, type InclusionProof, type ProofCheck } from './proof.js';
export { RejectionAuditor, markAudited, markAuthenticated, isAuthenticated, type RejectedRequest, type RejectionFloodGuard } from './request-scope.js';
