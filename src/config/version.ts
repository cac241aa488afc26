import { createRequire } from 'node:module';

/** The package version, read from package.json (kept out of the gateway so the CLI starts fast). */
export const VERSION: string = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
