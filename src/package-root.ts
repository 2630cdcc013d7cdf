/**
 * Files of the bpfmap package itself (its manifest, the native addon, the web view's assets),
 * found from wherever this code runs: the compiled modules (dist/src/...), the command line's
 * bundle (dist/cli/bpfmap.cjs), or src/ under a TypeScript loader. Each of those sits at a
 * different depth below the package root, so the root is found by walking up to bpfmap's own
 * package.json rather than by a fixed relative path.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** True when `dir` holds bpfmap's package.json (not some other package's). */
function isPackageRoot(dir: string): boolean {
  const manifest = path.join(dir, 'package.json');
  if (!existsSync(manifest)) return false;
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'bpfmap';
  } catch {
    return false;
  }
}

/** The package's root folder: the nearest ancestor of this module holding bpfmap's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (isPackageRoot(dir)) return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`bpfmap: cannot find the package's package.json above ${start}`);
  }
}

/** The path of `relative` (slash-separated) inside the package. */
export function packageFile(relative: string): string {
  return path.join(packageRoot(), ...relative.split('/'));
}
