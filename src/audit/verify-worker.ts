/** Worker thread for parallel `audit verify`: verifies one range of events on its own read-only connection. */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite } from '../store/index.js';
import { type ChunkInput, verifyChunk } from './verify-chunk.js';

const input = workerData as ChunkInput & { file: string };
const db = openSqlite({ file: input.file, readonly: true });
try {
  const r = verifyChunk(db, input);
  parentPort!.postMessage(r, [r.leaves.buffer as ArrayBuffer]);
} catch (e) {
  parentPort!.postMessage({ error: (e as Error).message });
} finally {
  db.close();
}
