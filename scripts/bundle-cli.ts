/**
 * Bundles the command line (dist/src/cli/main.js and every module it imports, as tsc emitted
 * them) into one CommonJS file, dist/cli/bpfmap.cjs, which src/cli/bin.cts loads. Run by
 * `npm run build` after tsc.
 *
 * Why: a `bpfmap` command loads about 50 of the package's modules. Node.js 20's ES module loader
 * resolves, reads (through the thread pool) and links each one in turn, and has no compile cache:
 * on the development VM that was 35-40 ms of a one-key `lookup` or a small `dump`, which scripts
 * run in loops. One CommonJS file is read with one synchronous read and compiled lazily, and
 * CommonJS skips the ES module loader's own start-up (~12 ms).
 *
 * What stays the same: the code is tsc's output, unchanged but for how modules find each other;
 * `import()` of a command stays lazy (its module's top level runs only when the command does);
 * dependencies (prom-client, yaml, bcryptjs) and the native addon load from the package at run
 * time; the file is strict mode as ES modules are; `import.meta.url` is the bundle's own URL
 * (src/package-root.ts finds the package's files from any depth). Source maps chain to src/*.ts.
 *
 * It then writes V8's code cache of the bundle (see src/cli/bundle-loader.cts).
 *
 * Run: `node dist/scripts/bundle-cli.js` from the package root.
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { BUNDLE_PATH, writeCodeCache } from '../src/cli/bundle-loader.cjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const result = await build({
  entryPoints: [path.join(root, 'dist/src/cli/main.js')],
  outfile: BUNDLE_PATH,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Dependencies load from node_modules at run time, as they do for the library.
  packages: 'external',
  // ES modules are strict; keep the bundle so. import.meta.url becomes the bundle's file URL.
  banner: { js: '"use strict";\nconst __bpfmapModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__bpfmapModuleUrl' },
  // Less text to read and pre-parse at every start (~5 ms on the development VM); names stay,
  // so stack traces still name functions, and the source map leads back to src/*.ts.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // Escape everything outside ASCII (esbuild's default, spelled out): the launcher reads the
  // bundle as Latin-1 (bundle-loader.cts), which is exact only for ASCII.
  charset: 'ascii',
  logLevel: 'warning',
  metafile: true,
});
const bundleBytes = readFileSync(BUNDLE_PATH);
const nonAscii = bundleBytes.findIndex((byte) => byte > 0x7f);
if (nonAscii >= 0) throw new Error(`dist/cli/bpfmap.cjs has a non-ASCII byte at ${nonAscii}: the launcher reads it as Latin-1`);
const inputs = Object.keys(result.metafile.inputs).filter((input) => input.endsWith('.js')).length;
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + (output.bytes ?? 0), 0);
console.log(`bundled the command line: ${inputs} modules -> dist/cli/bpfmap.cjs (${(bytes / 1024).toFixed(0)} KiB with its source map)`);
// V8's code cache of the bundle, for Node.js versions without a compile cache (bundle-loader.cts).
console.log(`wrote its V8 code cache (${(writeCodeCache() / 1024).toFixed(0)} KiB)`);
