/**
 * `dump` reads each batch on the addon's reader thread while it prints the one before
 * (`batches({ prefetch: true })`): the output is bpftool's byte for byte on hash, per-CPU hash,
 * LRU hash and array maps over many batches and on buckets that overflow a one-entry batch
 * (ENOSPC growth), and a dump racing deletes from another process exits cleanly and prints
 * only entries that were really in the map, with their values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, needs, pinDir, repoRoot } from '../helpers.js';
import { runCli, startCli } from './run-cli.js';

/** Value bytes of entry i (CPU `cpu` of per-CPU maps): every byte value appears across entries. */
function valueOf(i: number, size: number, cpu = 0): Uint8Array {
  return Uint8Array.from({ length: size }, (_, b) => (i * 13 + b * 31 + cpu * 101) & 0xff);
}

function keyOf(i: number, size: number): Uint8Array {
  const key = new Uint8Array(size);
  new DataView(key.buffer).setUint32(0, i, true);
  for (let b = 4; b < size; b++) key[b] = (i * 7 + b) & 0xff;
  return key;
}

function fill(map: BpfMap<Uint8Array, Uint8Array | Uint8Array[]>, count: number): void {
  const cpus = map.perCpu ? map.valueBufferSize / (Math.ceil(map.valueSize / 8) * 8) : 1;
  const entries: Array<[Uint8Array, Uint8Array | Uint8Array[]]> = [];
  for (let i = 0; i < count; i++) {
    const values = Array.from({ length: cpus }, (_, cpu) => valueOf(i, map.valueSize, cpu));
    entries.push([keyOf(i, map.keySize), map.perCpu ? values : values[0] as Uint8Array]);
  }
  map.setBatch(entries);
}

function assertSameBytes(pin: string, ...extra: string[]): void {
  const ours = runCli('-j', 'dump', 'pinned', pin, ...extra);
  assert.equal(ours.status, 0, ours.stderr);
  assert.equal(ours.stdout, bpftool('-j', 'map', 'dump', 'pinned', pin), `-j dump pinned ${pin} ${extra.join(' ')}`);
}

test('a prefetching -j dump is bpftool\'s text, byte for byte, on every batched map type', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-dump-prefetch');
  const shapes = [
    { name: 'hash', spec: { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 30_000 }, count: 25_000, batch: '1000' },
    { name: 'pcpu', spec: { type: 'percpu_hash', keySize: 8, valueSize: 12, maxEntries: 3_000 }, count: 2_500, batch: '100' },
    { name: 'lru', spec: { type: 'lru_hash', keySize: 4, valueSize: 16, maxEntries: 4_000 }, count: 2_000, batch: '64' },
    { name: 'array', spec: { type: 'array', keySize: 4, valueSize: 8, maxEntries: 5_000 }, count: 5_000, batch: '333' },
    { name: 'pcpu_array', spec: { type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 1_000 }, count: 1_000, batch: '99' },
  ] as const;
  for (const shape of shapes) {
    using map = BpfMap.create({ ...shape.spec, name: `pf_${shape.name}` });
    fill(map, shape.count);
    const pin = path.join(dir, shape.name);
    map.pin(pin);
    assertSameBytes(pin, '--batch', shape.batch);
    // The dump's own batch size (1 MiB of entries): prefetching only where the map is bigger.
    assertSameBytes(pin);
  }
});

test('a prefetching dump grows past buckets fuller than the batch (ENOSPC) and prints them all', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-dump-prefetch-enospc');
  // 4000 keys in 4096 buckets: many buckets hold two or more entries, more than one-entry batches take.
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4096, name: 'pf_enospc' });
  fill(map, 4000);
  const pin = path.join(dir, 'enospc');
  map.pin(pin);
  assertSameBytes(pin, '--batch', '1');
  const text = runCli('dump', 'pinned', pin, '--batch', '1');
  assert.equal(text.status, 0, text.stderr);
  assert.equal(text.stdout, bpftool('map', 'dump', 'pinned', pin));
});

test('a dump racing deletes from another process exits cleanly and prints only real entries', needs('bpftool'), async (t) => {
  const dir = pinDir(t, 'cli-dump-prefetch-race');
  const count = 60_000;
  using map = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 16, maxEntries: count, name: 'pf_race' });
  fill(map, count);
  const pin = path.join(dir, 'race');
  map.pin(pin);
  // Another process deletes every third key and puts it back (same key, same value), over and
  // over, until its stdin closes: the dumps run into deletes whenever they read.
  const deleter = spawn(process.execPath, ['--input-type=module', '-e', `
    import { BpfMap } from ${JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))};
    const map = BpfMap.openPinned(${JSON.stringify(pin)});
    let stop = false;
    process.stdin.on('end', () => { stop = true; }).resume();
    const keys = [], values = [];
    for (let i = ${count - 1}; i >= 0; i -= 3) {
      const key = new Uint8Array(8);
      new DataView(key.buffer).setUint32(0, i, true);
      for (let b = 4; b < 8; b++) key[b] = (i * 7 + b) & 0xff;
      keys.push(key);
      values.push(map.get(key));
    }
    console.log('deleting');
    while (!stop) {
      for (let j = 0; j < keys.length; j++) {
        map.delete(keys[j]);
        if (j % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      for (let j = 0; j < keys.length; j++) map.set(keys[j], values[j]);
    }
    map.close();`], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => deleter.kill());
  await new Promise<void>((resolve) => deleter.stdout.once('data', () => resolve()));
  const dumps = Array.from({ length: 3 }, () => startCli('-j', 'dump', 'pinned', pin, '--batch', '512'));
  const results = await Promise.all(dumps.map((dump) => dump.exited));
  deleter.stdin.end();
  await new Promise((resolve) => deleter.once('close', resolve));
  for (const result of results) {
    assert.equal(result.signal, null, result.stderr);
    assert.equal(result.status, 0, result.stderr);
    const entries = JSON.parse(result.stdout) as Array<{ key: string[]; value: string[] }>;
    assert.ok(entries.length > 0 && entries.length <= count, `${entries.length} entries`);
    const seen = new Set<number>();
    for (const entry of entries) {
      const key = Uint8Array.from(entry.key, (hex) => Number.parseInt(hex, 16));
      const i = new DataView(key.buffer).getUint32(0, true);
      assert.ok(i < count, `key ${entry.key.join(' ')} was never in the map`);
      assert.deepEqual(key, keyOf(i, 8), `key ${i} is one the map held`);
      assert.deepEqual(Uint8Array.from(entry.value, (hex) => Number.parseInt(hex, 16)), valueOf(i, 16), `value of key ${i}`);
      assert.ok(!seen.has(i), `key ${i} printed twice`);
      seen.add(i);
    }
  }
});
