/**
 * Worker thread for parallel `audit verify`: on its own read-only connection, verifies ranges
 * taken from the queue it shares with the other threads, posting each result as it is done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite } from '../store/index.js';
import { drainRanges, type RangeQueue } from './verify-chunk.js';

const input = workerData as RangeQueue & { file: string };
const port = parentPort!;
try {
  const db = openSqlite({ file: input.file, readonly: true });
  try {
    drainRanges(db, input, (i, r) => port.postMessage({ i, r }));
  } finally {
    db.close();
  }
  port.postMessage({ done: true });
} catch (e) {
  port.postMessage({ error: (e as Error).message });
}
