#!/usr/bin/env node
/**
 * The `bpfmap` executable. It loads the command line's bundle, dist/cli/bpfmap.cjs, which
 * `npm run build` makes of src/cli/main.ts and every module it imports: Node.js 20 starts one
 * CommonJS file tens of milliseconds sooner than the ~50 ES modules a command loads through its
 * ES module loader (see scripts/bundle-cli.ts), and scripts call the CLI in loops.
 */
import path = require('node:path');
import nodeModule = require('node:module');

// Node.js 22.1+ keeps the compiled bundle on disk for later runs; this must come before it loads.
// (Node.js 20 has no such cache.)
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const bundle = path.join(__dirname, '../../cli/bpfmap.cjs');
try {
  require(bundle);
} catch (error) {
  // Only the bundle's own absence gets this message; anything else it throws is its own error.
  if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND' || !String((error as Error).message).includes(bundle)) throw error;
  process.stderr.write(`bpfmap: the command line's bundle ${bundle} is missing: run \`npm run build\` in the package\n`);
  process.exitCode = 1;
}
