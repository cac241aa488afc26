/** `npm run bench`: every area's figures beside their baselines, measured in this one run. */
import { renderSection, type BenchSection } from './harness.js';

const AREAS = ['runtime', 'identity', 'policy', 'audit', 'secrets', 'sandbox', 'scan', 'storage'];
const only = process.argv.slice(2);

const out: string[] = [`# clawguard benchmarks — ${new Date().toISOString()} — node ${process.version}, ${(await import('node:os')).cpus().length} cores`];
for (const area of AREAS) {
  if (only.length && !only.includes(area)) continue;
  let mod: { run(): Promise<BenchSection> };
  try {
    mod = (await import(`./${area}.js`)) as typeof mod;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`${area}.js`)) continue;
    throw e;
  }
  process.stderr.write(`running ${area}…\n`);
  const sec = await mod.run();
  const text = renderSection(sec);
  out.push(text);
  process.stdout.write(`${text}\n`);
}
process.exit(0);
