/**
 * The `bpfmap` executable as the package ships it: package.json's `bin` is a launcher that loads
 * the bundle `npm run build` makes of the command line (dist/cli/bpfmap.cjs). These tests run it
 * from a copy of the package that holds only what a command needs at run time (no compiled
 * modules under dist/src), and compare every answer with the unbundled modules' answer to the
 * same command line: the bundle must be complete on its own and behave the same.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { BpfMap } from '../../src/map/bpf-map.js';
import { loadBpfObject, needs, pinDir, repoRoot, tempDir, u32le, u64le } from '../helpers.js';
import { buildCliFixture, cliPath } from './run-cli.js';

interface Answer {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runNode(script: string, args: readonly string[]): Answer {
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A copy of the package with the shipped launcher, the bundle and the addon, and no dist/src modules. */
function runtimeCopy(t: TestContext): string {
  const root = tempDir(t, 'shipped-bin');
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { bin: { bpfmap: string } };
  const launcher = manifest.bin.bpfmap;
  const loader = path.join(path.dirname(launcher), 'bundle-loader.cjs');
  for (const file of ['package.json', launcher, loader, 'dist/cli', 'build/Release/bpfmap_native.node']) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    cpSync(path.join(repoRoot, file), path.join(root, file), { recursive: true });
  }
  // Dependencies (prom-client, yaml) stay external to the bundle and load from node_modules.
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return path.join(root, launcher);
}

test('package.json\'s bin is the launcher of the bundle, and both are in the published files', () => {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { bin: { bpfmap: string }; files: string[] };
  assert.equal(path.join(repoRoot, manifest.bin.bpfmap), cliPath);
  assert.match(readFileSync(cliPath, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.ok(existsSync(path.join(repoRoot, 'dist/cli/bpfmap.cjs')), 'npm run build made the bundle');
  const shipped = (file: string): boolean => manifest.files.some((entry) => file === entry || file.startsWith(entry.endsWith('/') ? entry : `${entry}/`));
  assert.ok(shipped(manifest.bin.bpfmap.replace(/^\.\//, '')), `${manifest.bin.bpfmap} is published`);
  assert.ok(shipped('dist/cli/bpfmap.cjs'), 'the bundle is published');
});

test('the shipped bpfmap answers like the unbundled modules, from a copy without dist/src', needs('bpftool', 'clang'), (t) => {
  const bin = runtimeCopy(t);
  assert.ok(!existsSync(path.join(path.dirname(bin), 'main.js')) && !existsSync(path.join(path.dirname(bin), 'app.js')), 'no compiled modules beside the launcher');
  const unbundled = path.join(repoRoot, 'dist/src/cli/main.js');
  const dir = pinDir(t, 'shipped-bin');
  const { maps } = loadBpfObject(buildCliFixture(tempDir(t, 'shipped-bin-obj')), dir);
  using counts = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'shipped_bin' });
  for (let i = 0; i < 40; i++) counts.set(u32le(i), u64le(BigInt(i) * 1000n));
  const countsPin = path.join(dir, 'counts');
  counts.pin(countsPin);
  const commandLines: string[][] = [
    ['--version'],
    ['-j', '--version'],
    ['help'],
    ['help', 'dump'],
    ['-j', 'dump', 'pinned', countsPin],
    ['dump', 'pinned', countsPin],
    ['-p', 'dump', 'pinned', path.join(maps, 'flows')],
    ['dump', 'pinned', path.join(maps, 'pcpu_counts')],
    ['btf', 'pinned', path.join(maps, 'flows')],
    ['lookup', 'pinned', countsPin, 'key', '7', '0', '0', '0'],
    ['-j', 'show', 'pinned', countsPin],
    ['hist', 'pinned', path.join(maps, 'hist_slots')],
    // Errors: a missing key (1), a usage mistake (2), an unknown command (2).
    ['lookup', 'pinned', countsPin, 'key', '99', '0', '0', '0'],
    ['-j', 'lookup', 'pinned', countsPin, 'key', '1', '2'],
    ['nosuchcommand'],
  ];
  for (const args of commandLines) {
    const shipped = runNode(bin, args);
    const reference = runNode(unbundled, args);
    assert.deepEqual(shipped, reference, `bpfmap ${args.join(' ')}`);
  }
  // The answers are real ones, not two copies of the same failure.
  const dump = JSON.parse(runNode(bin, ['-j', 'dump', 'pinned', countsPin]).stdout) as unknown[];
  assert.equal(dump.length, 40);
  assert.equal(runNode(bin, ['lookup', 'pinned', countsPin, 'key', '99', '0', '0', '0']).status, 1);
  assert.equal(runNode(bin, ['nosuchcommand']).status, 2);
});

test('without its bundle the launcher says what is missing and exits 1', (t) => {
  const bin = runtimeCopy(t);
  const root = path.resolve(path.dirname(bin), '../../..');
  rmSync(path.join(root, 'dist/cli'), { recursive: true });
  const answer = runNode(bin, ['--version']);
  assert.equal(answer.status, 1);
  assert.equal(answer.stdout, '');
  assert.match(answer.stderr, /^bpfmap: the command line's bundle .*dist\/cli\/bpfmap\.cjs is missing: run `npm run build` in the package\n$/);
});

/** True where Node.js has its own compile cache (22.1+): the launcher uses that, not the shipped one. */
function nodeCachesCode(): boolean {
  return spawnSync(process.execPath, ['-p', "typeof require('node:module').enableCompileCache"], { encoding: 'utf8' }).stdout.trim() === 'function';
}

test('the build\'s V8 code cache of the bundle is accepted by this Node.js', (t) => {
  if (nodeCachesCode()) {
    t.skip('this Node.js has its own compile cache, which the launcher uses instead');
    return;
  }
  // In a plain child process, as the launcher runs: V8 flags are part of what a cache must match.
  const check = `const l = require(${JSON.stringify(path.join(repoRoot, 'dist/src/cli/bundle-loader.cjs'))});
    const fs = require('node:fs');
    const data = l.readCodeCache();
    if (data === undefined) throw new Error('the code cache is missing or does not match its digest');
    const script = l.compileBundle(fs.readFileSync(l.BUNDLE_PATH, 'utf8'), data);
    process.stdout.write(String(script.cachedDataRejected));`;
  const result = spawnSync(process.execPath, ['-e', check], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'false', 'V8 rejected the shipped code cache: the build wrote it for another source, V8 or flags');
});

test('a damaged or missing code cache only costs time: the answers stay the same', (t) => {
  const bin = runtimeCopy(t);
  const cache = path.resolve(path.dirname(bin), '../../cli/bpfmap.cjs.codecache');
  assert.ok(existsSync(cache), 'the build wrote the code cache');
  const good = readFileSync(cache);
  const expected = runNode(bin, ['help', 'dump']);
  assert.equal(expected.status, 0, expected.stderr);
  const damaged: Array<[string, Buffer | undefined]> = [
    ['random bytes', randomBytes(good.length)],
    ['truncated', good.subarray(0, good.length >> 1)],
    ['one payload byte flipped', Buffer.from(good.map((byte, i) => (i === good.length - 100 ? byte ^ 0xff : byte)))],
    ['empty', Buffer.alloc(0)],
    ['missing', undefined],
  ];
  for (const [what, bytes] of damaged) {
    if (bytes === undefined) rmSync(cache);
    else writeFileSync(cache, bytes);
    assert.deepEqual(runNode(bin, ['help', 'dump']), expected, `code cache ${what}`);
  }
});
