/**
 * A scrape reads each map with batch lookups, as #13 asks: a scrape of a 5000-entry hash map in
 * a child process traced by strace makes BPF_MAP_LOOKUP_BATCH calls (a few, each many entries)
 * and no per-entry BPF_MAP_LOOKUP_ELEM or BPF_MAP_GET_NEXT_KEY calls, and still writes a series
 * for every entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfMap } from '../../src/map/bpf-map.js';
import { needs, pinDir, tempDir, u32le, u64le } from '../helpers.js';

const ENTRIES = 5000;
const exporterModule = fileURLToPath(new URL('../../src/serve/metrics/exporter.js', import.meta.url));

test('a scrape reads a map with BPF_MAP_LOOKUP_BATCH, never one syscall per entry', needs('strace'), (t) => {
  const pins = pinDir(t, 'serve-batch');
  const pinned = path.join(pins, 'counts');
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8192, name: 'counts' });
  for (let i = 0; i < ENTRIES; i++) map.set(u32le(i), u64le(i * 3));
  map.pin(pinned);

  const trace = path.join(tempDir(t, 'serve-strace'), 'bpf.trace');
  const script = `
    const { MapExporter } = await import(${JSON.stringify(exporterModule)});
    const exporter = new MapExporter({ maps: [{ kind: 'pinned', path: ${JSON.stringify(pinned)} }], programStats: false });
    const text = await exporter.text('text');
    process.stdout.write(String(text.split('\\n').filter((line) => line.startsWith('bpfmap_counts{')).length));
  `;
  const run = spawnSync('strace', ['-f', '-qq', '-e', 'trace=bpf', '-o', trace, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `child failed: ${run.stderr}`);
  assert.equal(Number(run.stdout), ENTRIES, 'a series for every entry');

  const calls = readFileSync(trace, 'utf8').split('\n');
  const count = (command: string): number => calls.filter((line) => line.includes(`bpf(${command},`)).length;
  const batches = count('BPF_MAP_LOOKUP_BATCH');
  assert.ok(batches >= 1, 'the scrape used batch lookups');
  assert.ok(batches <= 10, `${batches} batch calls for ${ENTRIES} entries: batches of many entries`);
  // Opening the pin and reading its info are a handful of calls; per-entry reads would be 5000.
  assert.ok(count('BPF_MAP_LOOKUP_ELEM') < 10, `${count('BPF_MAP_LOOKUP_ELEM')} single lookups`);
  assert.ok(count('BPF_MAP_GET_NEXT_KEY') < 10, `${count('BPF_MAP_GET_NEXT_KEY')} next-key calls`);
});
