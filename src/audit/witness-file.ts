/**
 * A witness's state for one log, kept in a directory: witness.json (keys, latest head, segments),
 * replaced atomically and fsynced, and audit-signing.pub (the current key, PEM) for people and
 * `verify-proof --public-key`. Updates within a process are serialised; a directory has one writer.
 * The directory must exist: a witness on another mount that is not mounted is an error, not a new,
 * empty witness on the wrong disk.
 */
import { open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { publicKeyFromSpkiBase64 } from './keys.js';
import { emptyWitnessState, parseWitnessState, type Verdict, type WitnessState } from './witness-state.js';

export const WITNESS_FILE = 'witness.json';

async function writeDurably(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class WitnessFile {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  async read(): Promise<WitnessState> {
    const st = await stat(this.dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new Error(`witness directory ${this.dir} does not exist (not mounted?)`);
    let text: string;
    try {
      text = await readFile(join(this.dir, WITNESS_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyWitnessState();
      throw e;
    }
    let parsed: WitnessState | undefined;
    try {
      parsed = parseWitnessState(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed) throw new Error(`${join(this.dir, WITNESS_FILE)} is not a valid witness state (its keys or heads do not verify)`);
    return parsed;
  }

  /** Apply `rule` to the current state and keep the result if it accepts; one update at a time. */
  update(rule: (s: WitnessState) => Verdict): Promise<Verdict> {
    const run = this.chain.then(async () => {
      const before = await this.read();
      const v = rule(before);
      if (v.ok && v.changed) {
        await writeDurably(join(this.dir, WITNESS_FILE), `${JSON.stringify(v.state, null, 1)}\n`);
        const key = v.state.keys.at(-1);
        if (key && key.keyId !== before.keys.at(-1)?.keyId) {
          await writeDurably(join(this.dir, 'audit-signing.pub'), publicKeyFromSpkiBase64(key.publicKey).export({ type: 'spki', format: 'pem' }) as string);
        }
        await syncDir(this.dir);
      }
      return v;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}
