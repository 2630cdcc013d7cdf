/**
 * Loads the command line's bundle (dist/cli/bpfmap.cjs, made by scripts/bundle-cli.ts) for the
 * launcher (bin.cts), with a V8 code cache where Node.js has no compile cache of its own.
 *
 * Compiling the bundle (~650 KB) is most of what is left of a command's start-up: V8 pre-parses
 * every function to find where it ends, although a command runs only a few of them. Node.js
 * 22.1+ caches compiled code on disk (`module.enableCompileCache`), which the launcher turns on.
 * On older versions the build writes V8's code cache of the bundle beside it
 * (dist/cli/bpfmap.cjs.codecache, `writeCodeCache`), and the launcher compiles the bundle with it:
 * about 10-15 ms less per command on the development VM. V8 checks that a cache belongs to this
 * V8 version, these V8 flags and this source, and compiles from scratch when it does not, so a
 * missing or stale cache costs only the time it would have saved. V8 does not check the cached
 * code itself (release builds skip its checksum), and a cache damaged inside would crash the
 * process: the file starts with the SHA-256 of V8's data, and a cache that does not match it is
 * not used (~1 ms). The cache is written only at build time: a command never writes files.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import nodeModule = require('node:module');
import path = require('node:path');
import vm = require('node:vm');

/** The bundle. */
export const BUNDLE_PATH = path.join(__dirname, '../../cli/bpfmap.cjs');
/** V8's code cache of the bundle, compiled by `compileBundle`. */
export const CODE_CACHE_PATH = `${BUNDLE_PATH}.codecache`;

/** The bundle as CommonJS would run it: a function of the module's variables. */
type BundleFunction = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/**
 * The bundle compiled as a CommonJS module's function (the same wrapper Node.js uses), with V8's
 * code cache when `cachedData` is given. The cache is valid only for exactly this source text.
 */
export function compileBundle(source: string, cachedData?: Buffer): vm.Script {
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  return new vm.Script(wrapped, { filename: BUNDLE_PATH, ...(cachedData === undefined ? {} : { cachedData }) });
}

/**
 * The bundle's text. It is ASCII (esbuild escapes everything else, and scripts/bundle-cli.ts
 * checks), so it is read as Latin-1, which is the same text and reads ~2 ms faster than UTF-8.
 */
export function readBundleSource(): string {
  return readFileSync(BUNDLE_PATH, 'latin1');
}

/** Bytes of the SHA-256 that starts the cache file. */
const DIGEST_BYTES = 32;

/** Writes the bundle's code cache (run at build time, by the Node.js that will run the CLI). */
export function writeCodeCache(): number {
  const cache = compileBundle(readBundleSource()).createCachedData();
  writeFileSync(CODE_CACHE_PATH, Buffer.concat([createHash('sha256').update(cache).digest(), cache]));
  return cache.length;
}

/** V8's data from the cache file, or undefined when there is none or it is not intact. */
export function readCodeCache(): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(CODE_CACHE_PATH);
  } catch {
    // No cache (a build that skipped it): compile from scratch.
    return undefined;
  }
  if (file.length <= DIGEST_BYTES) return undefined;
  const data = file.subarray(DIGEST_BYTES);
  return createHash('sha256').update(data).digest().equals(file.subarray(0, DIGEST_BYTES)) ? data : undefined;
}

/** True where Node.js caches compiled code itself (22.1+). */
function hasCompileCache(): boolean {
  return typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
}

/** Runs the bundle, as `require(BUNDLE_PATH)` would. Throws ENOENT when it has not been built. */
export function runBundle(): void {
  if (hasCompileCache()) {
    (nodeModule as unknown as { enableCompileCache: () => unknown }).enableCompileCache();
    require(BUNDLE_PATH);
    return;
  }
  const script = compileBundle(readBundleSource(), readCodeCache());
  const bundleModule = { exports: {} };
  (script.runInThisContext() as BundleFunction)(bundleModule.exports, nodeModule.createRequire(BUNDLE_PATH), bundleModule, BUNDLE_PATH, path.dirname(BUNDLE_PATH));
}
