/** Worker thread: scans the batches of files it is sent and posts the results back. */
import { parentPort, workerData } from 'node:worker_threads';
import { Scratch, scanFileSync, type FileScanContext } from './file-scan.js';
import type { FileEntry } from './walker.js';

const ctx = (workerData as { ctx: FileScanContext }).ctx;
const scratch = new Scratch();

parentPort!.on('message', (m: { id: number; files: FileEntry[] } | { exit: true }) => {
  if ('exit' in m) {
    parentPort!.close();
    return;
  }
  parentPort!.postMessage({ id: m.id, results: m.files.map((f) => scanFileSync(f, ctx, scratch)) });
});
parentPort!.postMessage({ ready: true });
