/**
 * The TypeScript samples of the README and the guides compile as a consumer would compile them:
 * each ```ts block becomes a module of a fresh project that imports 'bpfmap' (the built package,
 * through node_modules), type-checked by tsc --strict with the tsconfig the README recommends for
 * Node.js 20. The JavaScript emitted for the `using` samples must then parse on this Node.js.
 * (Type-checked and parsed, not run: the samples touch fixed pin paths.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';

/** Documents whose samples are complete programs (docs/btf.md's and others' are fragments in context). */
const DOCUMENTS = ['README.md', 'docs/records.md'];

/** The ```ts blocks of a Markdown file, with the line each starts on. */
function tsBlocks(file: string): Array<{ line: number; code: string }> {
  const lines = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
  const blocks: Array<{ line: number; code: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

test("the README's and records guide's TypeScript samples compile under tsc --strict and run on this Node.js", (t) => {
  const project = tempDir(t, 'doc-samples');
  mkdirSync(path.join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(repoRoot, path.join(project, 'node_modules', 'bpfmap'));
  symlinkSync(path.join(repoRoot, 'node_modules', '@types', 'node'), path.join(project, 'node_modules', '@types', 'node'));
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ type: 'module' }));
  // The README's words, as a tsconfig.
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  assert.match(readme, /"target": "ES2022"` and `"lib": \["ES2022", "ESNext.Disposable"\]`/);
  writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', lib: ['ES2022', 'ESNext.Disposable'], module: 'NodeNext', moduleResolution: 'NodeNext',
      strict: true, outDir: 'out', types: ['node'],
    },
    include: ['samples'],
  }));
  mkdirSync(path.join(project, 'samples'));
  const samples: string[] = [];
  for (const document of DOCUMENTS) {
    for (const { line, code } of tsBlocks(document)) {
      // Each sample is its own module (`export {}` makes a file without imports one too).
      const name = `${document.replace(/\W/g, '_')}_${line}`;
      writeFileSync(path.join(project, 'samples', `${name}.ts`), `${code}\nexport {};\n`);
      samples.push(name);
    }
  }
  assert.ok(samples.length >= 4, `${samples.length} samples`);
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  assert.equal(compiled.status, 0, `tsc --strict on the samples:\n${compiled.stdout}${compiled.stderr}`);
  const emitted = readdirSync(path.join(project, 'out'));
  for (const name of samples) {
    assert.ok(emitted.includes(`${name}.js`), `${name}.js emitted`);
    const check = spawnSync(process.execPath, ['--check', path.join(project, 'out', `${name}.js`)], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${name}.js parses on Node.js ${process.version}: ${check.stderr}`);
  }
  // The same `using` sample compiled for ESNext keeps the syntax: what the README warns about.
  const usingSample = samples.find((name) => /^\s*using /m.test(readFileSync(path.join(project, 'samples', `${name}.ts`), 'utf8')));
  assert.ok(usingSample !== undefined, 'a sample uses `using`');
  execFileSync(process.execPath, [tsc, '--target', 'ESNext', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', '--outDir', path.join(project, 'esnext'), path.join(project, 'samples', `${usingSample}.ts`)], { cwd: project });
  assert.match(readFileSync(path.join(project, 'esnext', `${usingSample}.js`), 'utf8'), /^using /m);
});
