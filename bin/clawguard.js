#!/usr/bin/env -S node --no-node-snapshot
// --no-node-snapshot: the isolate engine (isolated-vm) requires it on Node >= 20.
import { main } from '../dist/src/cli/index.js';

await main(process.argv);
