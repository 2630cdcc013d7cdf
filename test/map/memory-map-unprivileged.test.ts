/**
 * MemoryMap where bpf(2) is out of reach: a child process running as nobody without
 * capabilities (where `BpfMap.create` fails with EPERM), and a copy of the package without its
 * addon build (as `npm install --ignore-scripts` leaves it), where importing `bpfmap` fails but
 * `bpfmap/memory` loads and works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { needs, repoRoot, tempDir } from '../helpers.js';

/** What the child does with memory maps, printing one JSON line of results. */
function scenario(memoryModule: string): string {
  return `
    const { MemoryMap, BpfRecord, BpfError, BpfBatchError } = await import(${JSON.stringify(memoryModule)});
    const results = {};
    const caught = (run) => { try { run(); return 'no error'; } catch (e) { return { name: e.name, code: e.code, command: e.command, processed: e.processed }; } };
    const key = BpfRecord.define([['pid', 'I']]);
    const value = BpfRecord.define([['packets', 'Q'], ['bytes', 'Q']]);
    const flows = MemoryMap.createWithRecords({ type: 'hash', maxEntries: 2, name: 'flows' }, { key, value });
    flows.set({ pid: 1 }, { packets: 1n, bytes: 60n }).set({ pid: 2 }, { packets: 2n, bytes: 120n });
    results.full = caught(() => flows.set({ pid: 3 }, { packets: 0n, bytes: 0n }));
    results.noexist = caught(() => flows.set({ pid: 1 }, { packets: 0n, bytes: 0n }, 'noexist'));
    results.batch = caught(() => flows.deleteBatch([{ pid: 1 }, { pid: 9 }]));
    results.entries = [...flows.entries()].map(([k, v]) => [k.pid, String(v.packets), String(v.bytes)]);
    const typed = flows.typed();
    results.typed = [...typed.entries()].map(([k, v]) => [k.pid, String(v.bytes)]);
    const perCpu = MemoryMap.create({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2 }, {}, { possibleCpus: 3 });
    perCpu.set(Uint8Array.of(1, 0, 0, 0), [new Uint8Array(8).fill(1), new Uint8Array(8).fill(2), new Uint8Array(8).fill(3)]);
    results.perCpu = perCpu.get(Uint8Array.of(1, 0, 0, 0)).map((v) => v[0]);
    results.arrayDelete = caught(() => perCpu.delete(Uint8Array.of(0, 0, 0, 0)));
    const queue = MemoryMap.create({ type: 'queue', valueSize: 1, maxEntries: 2 });
    queue.push(Uint8Array.of(7)).push(Uint8Array.of(8)).push(Uint8Array.of(9), 'exist');
    results.queue = [queue.pop()[0], queue.pop()[0], queue.pop()];
    flows.close(); perCpu.close(); queue.close();
    results.uid = process.getuid();
    console.log(JSON.stringify(results));
  `;
}

function checkScenario(output: string): void {
  const results = JSON.parse(output.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual(results.full, { name: 'BpfError', code: 'E2BIG', command: 'MAP_UPDATE_ELEM' });
  assert.deepEqual(results.noexist, { name: 'BpfError', code: 'EEXIST', command: 'MAP_UPDATE_ELEM' });
  assert.deepEqual(results.batch, { name: 'BpfError', code: 'ENOENT', command: 'MAP_DELETE_BATCH', processed: 1 });
  assert.deepEqual(results.entries, [[2, '2', '120']]);
  assert.deepEqual(results.typed, [[2, '120']]);
  assert.deepEqual(results.perCpu, [1, 2, 3]);
  assert.deepEqual(results.arrayDelete, { name: 'BpfError', code: 'EINVAL', command: 'MAP_DELETE_ELEM' });
  assert.deepEqual(results.queue, [8, 9, null]);
}

/** Makes a folder tree readable by nobody (temporary folders are the creator's alone); symlinks are left alone. */
function openToAll(dir: string): void {
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) {
    const entry = path.join(dir, name);
    const stats = lstatSync(entry);
    if (stats.isSymbolicLink()) continue;
    if (stats.isDirectory()) openToAll(entry);
    else chmodSync(entry, 0o644);
  }
}

const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'];

test('as nobody, where bpf(2) says EPERM, a MemoryMap works', needs('setpriv'), () => {
  const script = `
    const { BpfMap } = await import(${JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))});
    try { BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 }); console.log('bpf: allowed'); }
    catch (e) { console.log('bpf: ' + e.code + ' ' + e.command); }
    ${scenario(path.join(repoRoot, 'dist/src/memory.js'))}
  `;
  const output = execFileSync('setpriv', [...asNobody, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: '/' });
  assert.match(output, /^bpf: EPERM MAP_CREATE$/m, 'the child has no bpf(2)');
  checkScenario(output);
  assert.match(output, /"uid":65534/);
});

/** A consumer folder whose node_modules/bpfmap is the built package without its addon (no build/). */
function consumerWithoutAddon(t: Parameters<typeof tempDir>[0]): string {
  const consumer = tempDir(t, 'memory-no-addon');
  const installed = path.join(consumer, 'node_modules', 'bpfmap');
  cpSync(path.join(repoRoot, 'dist', 'src'), path.join(installed, 'dist', 'src'), { recursive: true });
  cpSync(path.join(repoRoot, 'package.json'), path.join(installed, 'package.json'));
  return consumer;
}

test('bpfmap/memory loads and works from a package without its addon build; bpfmap itself does not', needs('setpriv'), (t) => {
  const consumer = consumerWithoutAddon(t);
  openToAll(consumer);
  const script = `
    try { await import('bpfmap'); console.log('bpfmap: loaded'); } catch (e) { console.log('bpfmap: ' + e.message.split('\\n')[0]); }
    ${scenario('bpfmap/memory')}
  `;
  const output = execFileSync('setpriv', [...asNobody, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: consumer });
  assert.match(output, /^bpfmap: bpfmap: the native addon is not built/m, 'the copy has no addon');
  checkScenario(output);
});

test("docs/maps.md's testing sample type-checks and runs as nobody from a package without its addon", needs('setpriv'), (t) => {
  const guide = readFileSync(path.join(repoRoot, 'docs/maps.md'), 'utf8');
  const section = guide.slice(guide.indexOf('## Testing without a kernel'));
  const sample = /```ts\n([\s\S]*?)\n```/.exec(section)?.[1];
  assert.ok(sample?.includes("from 'bpfmap/memory'"), 'the section has its sample');
  const consumer = consumerWithoutAddon(t);
  mkdirSync(path.join(consumer, 'node_modules', '@types'), { recursive: true });
  symlinkSync(path.join(repoRoot, 'node_modules', '@types', 'node'), path.join(consumer, 'node_modules', '@types', 'node'));
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ type: 'module' }));
  // The tsconfig the README recommends for Node.js 20.
  writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', lib: ['ES2022', 'ESNext.Disposable'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', types: ['node'] },
    include: ['sample.ts'],
  }));
  writeFileSync(path.join(consumer, 'sample.ts'), `${sample}\nconsole.log('sample ran');\n`);
  const compiled = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { encoding: 'utf8' });
  assert.equal(compiled.status, 0, `tsc --strict on the sample:\n${compiled.stdout}${compiled.stderr}`);
  openToAll(consumer);
  const output = execFileSync('setpriv', [...asNobody, process.execPath, path.join(consumer, 'out', 'sample.js')], { encoding: 'utf8', cwd: consumer });
  assert.match(output, /^sample ran$/m);
});
