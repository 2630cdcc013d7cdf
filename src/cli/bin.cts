#!/usr/bin/env node
/**
 * The `bpfmap` executable. It runs the command line's bundle, dist/cli/bpfmap.cjs, which
 * `npm run build` makes of src/cli/main.ts and every module it imports: Node.js 20 starts one
 * CommonJS file tens of milliseconds sooner than the ~50 ES modules a command loads through its
 * ES module loader (see scripts/bundle-cli.ts), and scripts call the CLI in loops.
 */
import { BUNDLE_PATH, runBundle } from './bundle-loader.cjs';

try {
  runBundle();
} catch (error) {
  // Only the bundle's own absence gets this message; anything else it throws is its own error.
  const { code, path: missing } = error as { code?: unknown; path?: unknown };
  if (!((code === 'ENOENT' && missing === BUNDLE_PATH) || (code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(BUNDLE_PATH)))) throw error;
  process.stderr.write(`bpfmap: the command line's bundle ${BUNDLE_PATH} is missing: run \`npm run build\` in the package\n`);
  process.exitCode = 1;
}
