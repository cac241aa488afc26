/** Worker thread: consistency proofs from the log's database on its own read-only connection (see prover.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite, type SqliteDb } from '../store/index.js';
import { consistencyFromDb, type ProofRequest } from './consistency-db.js';

const { file } = workerData as { file: string };
const port = parentPort!;
let db: SqliteDb | undefined;
port.on('message', (m: { id: number; req: ProofRequest }) => {
  try {
    db ??= openSqlite({ file, readonly: true });
    // one snapshot: the rows read are those of one committed state
    const r = db.transaction(() => consistencyFromDb(db!, m.req))();
    port.postMessage({ id: m.id, r });
  } catch (e) {
    port.postMessage({ id: m.id, error: (e as Error).message });
  }
});
