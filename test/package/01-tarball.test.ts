/**
 * What `npm pack` ships: a LICENSE, source maps whose sources are in the tarball, and an addon
 * message that tells a consumer who installed with --ignore-scripts what works (`npm rebuild
 * bpfmap`), checked on a copy of the built package without its addon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';

interface PackedFile {
  readonly path: string;
}

test('the tarball has a LICENSE and no source map points at a file it lacks', () => {
  const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const files = (JSON.parse(output) as Array<{ files: PackedFile[] }>)[0]?.files.map((file) => file.path) ?? [];
  const shipped = new Set(files);
  assert.ok(shipped.has('LICENSE'));
  assert.match(readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} the bpfmap authors\n/);
  assert.equal((JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { license: string }).license, 'MIT');
  const maps = files.filter((file) => file.endsWith('.js.map'));
  assert.ok(maps.length > 20, `${maps.length} source maps`);
  const dangling: string[] = [];
  for (const map of maps) {
    const { sources, sourceRoot = '' } = JSON.parse(readFileSync(path.join(repoRoot, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
    for (const source of sources) {
      const target = path.normalize(path.join(path.dirname(map), sourceRoot, source));
      if (!shipped.has(target)) dangling.push(`${map} -> ${target}`);
    }
  }
  assert.deepEqual(dangling, []);
  assert.ok(!files.some((file) => file.startsWith('dist/test/') || file.startsWith('dist/bench/')), 'no tests or benchmarks');
});

test('without the addon (installed with --ignore-scripts), importing says to run npm rebuild bpfmap', (t) => {
  const consumer = tempDir(t, 'ignore-scripts');
  // The package as a consumer's node_modules holds it after `npm install --ignore-scripts`: no build/.
  const installed = path.join(consumer, 'node_modules', 'bpfmap');
  cpSync(path.join(repoRoot, 'dist', 'src'), path.join(installed, 'dist', 'src'), { recursive: true });
  cpSync(path.join(repoRoot, 'package.json'), path.join(installed, 'package.json'));
  // Its dependencies, as npm would have installed them beside it.
  for (const dependency of readdirSync(path.join(repoRoot, 'node_modules'))) {
    if (dependency !== 'bpfmap' && !dependency.startsWith('.')) symlinkSync(path.join(repoRoot, 'node_modules', dependency), path.join(consumer, 'node_modules', dependency));
  }
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('bpfmap')"], { cwd: consumer, encoding: 'utf8' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /the native addon is not built .*run `npm rebuild bpfmap` \(installed with --ignore-scripts\?\)/);
  assert.doesNotMatch(result.stderr, /npx node-gyp/);
});
