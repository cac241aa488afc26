/** What the session tests use besides the gateway: the identity module's parts and a store file. */
import { openSqlite, type SqliteDb } from '../../src/store/index.js';
export { AgentRegistry, createAgentClient, generateEd25519, ROTATED_TOKEN_HEADER, SessionTokens, TokenSigner } from '../../src/identity/index.js';

export function openSqliteForTest(file: string): SqliteDb {
  return openSqlite({ file });
}
